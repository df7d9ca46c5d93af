/**
 * @module `POST /v1/generate` `{"model","adapter"?,"prompt" | "messages","max_new_tokens",…}` → `{"text"}`:
 * text continuation, or a chat reply (`messages` rendered with the model's chat template), with a registered model, optionally with a fine-tune job's weights
 * (`adapter`: a job id; a LoRA job's adapter is merged, a full job's model replaces the base).
 */
import { createRoute, type OpenAPIHono, z } from "npm:@hono/zod-openapi@1.6.3";
import { GenerateRequestSchema } from "../src/jobs/spec.ts";
import type { JobRunner } from "../src/jobs/runner.ts";
import { BODY_ERRORS, errorResponse, newApp } from "./_common.ts";

const GenerateResponse = z.object({ text: z.string().describe("the continuation (prompt not included)") })
  .openapi("GenerateResponse");

/** Generation route over a runner (for adapter jobs) and its model registry. */
export function generateRoutes(runner: JobRunner): OpenAPIHono {
  const app = newApp();
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/generate",
      operationId: "generate",
      tags: ["generate"],
      summary: "Continue a text prompt, or answer a conversation",
      security: [{ Bearer: [] }],
      request: {
        body: { required: true, content: { "application/json": { schema: GenerateRequestSchema } } },
      },
      responses: {
        200: {
          description: "the continuation",
          content: { "application/json": { schema: GenerateResponse } },
        },
        ...BODY_ERRORS,
        404: errorResponse("unknown model or adapter job"),
      },
    }),
    async (c) => c.json(await runner.generate(c.req.valid("json")), 200),
  );
  return app;
}
