/** @module `GET /v1/models`: the registered models (the built-in one when present). */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";

const ModelInfo = z.object({
  id: z.string().describe("model reference accepted by the API ('default' or a registered name)"),
  path: z.string().describe("model directory on the server"),
}).openapi("ModelInfo");
const ModelList = z.object({ data: z.array(ModelInfo).describe("registered models") }).openapi("ModelList");

/** Model listing over a name → directory registry. */
export function modelsRoutes(registry: ReadonlyMap<string, string>): OpenAPIHono {
  return new OpenAPIHono().openapi(
    createRoute({
      method: "get",
      path: "/v1/models",
      responses: {
        200: { description: "registered models", content: { "application/json": { schema: ModelList } } },
      },
    }),
    (c) => c.json({ data: [...registry].map(([id, path]) => ({ id, path })) }, 200),
  );
}
