/**
 * @module `GET /docs`: Swagger UI over `/openapi.json`, served from the module itself like the
 * dashboard (swagger-ui-dist from npm, built into routes/dashboard/assets.ts): no CDN.
 */
import { Hono } from "npm:hono@4.13.19";
import { serveAsset } from "./dashboard.ts";

/** The docs UI route. */
export function docsRoutes(): Hono {
  return new Hono().get("/docs", (c) => serveAsset(c, "docs.html"));
}
