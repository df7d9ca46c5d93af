/**
 * @module `GET /docs`: a Swagger UI page over `/openapi.json`. The page loads swagger-ui-dist
 * from a public CDN in the browser (no server-side dependency); the document itself is served by
 * the app (`GET /openapi.json`, OpenAPI 3.1 generated from the zod schemas).
 */
import { Hono } from "npm:hono@4.13.19";

const PAGE = (specUrl: string) =>
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>posttrain API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js" crossorigin></script>
<script>
window.onload = () => { window.ui = SwaggerUIBundle({ url: ${
    JSON.stringify(specUrl)
  }, dom_id: "#swagger-ui" }); };
</script>
</body>
</html>
`;

/** The docs UI route. */
export function docsRoutes(specUrl = "/openapi.json"): Hono {
  return new Hono().get("/docs", (c) => c.html(PAGE(specUrl)));
}
