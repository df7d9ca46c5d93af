/** @module `GET /v1/models`: the registered models and the model dirs under the models root. */
import { createRoute, type OpenAPIHono, z } from "npm:@hono/zod-openapi@1.6.3";
import type { ModelRegistry } from "../src/jobs/models.ts";
import { newApp } from "./_common.ts";

const ModelInfo = z.object({
  id: z.string().describe("model reference accepted by the API ('default' or a registered name)"),
  path: z.string().describe("model directory on the server"),
}).openapi("ModelInfo");
const ModelList = z.object({ data: z.array(ModelInfo).describe("registered models") }).openapi("ModelList");

/** Model listing over a registry. */
export function modelsRoutes(registry: ModelRegistry): OpenAPIHono {
  return newApp().openapi(
    createRoute({
      method: "get",
      path: "/v1/models",
      summary: "List the models jobs and generation accept",
      responses: {
        200: { description: "registered models", content: { "application/json": { schema: ModelList } } },
      },
    }),
    async (c) => c.json({ data: await registry.list() }, 200),
  );
}
