/**
 * @module `GET /v1/models`: the registered models and the model dirs under the models root, each
 * with its family, parameter count and storage dtype (from config.json and the safetensors headers).
 */
import { createRoute, type OpenAPIHono, z } from "npm:@hono/zod-openapi@1.6.3";
import type { ModelRegistry } from "../src/jobs/models.ts";
import { modelInfo } from "../src/jobs/model_info.ts";
import { errorResponse, newApp } from "./_common.ts";

const ModelInfo = z.object({
  id: z.string().describe("model reference accepted by the API ('default' or a registered name)"),
  family: z.string().optional().describe("model_type of its config.json (llama, gpt2, qwen2, …)"),
  parameters: z.number().int().optional().describe("parameters stored in its weights files"),
  dtype: z.string().optional().describe("storage dtype of the weights (F32, BF16, …)"),
}).openapi("ModelInfo");
const ModelList = z.object({ data: z.array(ModelInfo).describe("registered models") }).openapi("ModelList");

/** Model listing over a registry. */
export function modelsRoutes(registry: ModelRegistry): OpenAPIHono {
  return newApp().openapi(
    createRoute({
      method: "get",
      path: "/v1/models",
      operationId: "listModels",
      tags: ["models"],
      summary: "List the models jobs and generation accept",
      description: "Each with its family, parameter count and dtype; a model whose files cannot be read " +
        "is listed without them.",
      responses: {
        200: { description: "registered models", content: { "application/json": { schema: ModelList } } },
        401: errorResponse("missing or wrong bearer token (POSTTRAIN_TOKEN set, reads not public)"),
      },
    }),
    async (c) => {
      const models = await registry.list();
      // the server's paths are not shown
      const data = await Promise.all(
        models.map(async (m) => ({ id: m.id, ...(await modelInfo(m.path).catch(() => ({}))) })),
      );
      return c.json({ data }, 200);
    },
  );
}
