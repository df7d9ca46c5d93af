/**
 * @module `POST /v1/generate` `{"model","adapter"?,"prompt" | "messages","max_new_tokens",…}` → `{"text"}`:
 * text continuation, or a chat reply (`messages` rendered with the model's chat template), with a registered model, optionally with a fine-tune job's weights
 * (`adapter`: a job id; a LoRA job's adapter is merged, a full job's model replaces the base).
 */
import { createRoute, type OpenAPIHono, z } from "npm:@hono/zod-openapi@1.6.3";
import { GenerateRequestSchema } from "../src/jobs/spec.ts";
import type { JobRunner } from "../src/jobs/runner.ts";
import { generateWith, promptIds } from "../src/api.ts";
import { ApiError, BODY_ERRORS, errorResponse, newApp } from "./_common.ts";

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
    async (c) => {
      const r = c.req.valid("json");
      let dir = await runner.models.resolve(r.model);
      const adapters: string[] = [];
      if (r.adapter) {
        const a = await runner.resolveAdapter(r.adapter, r.model);
        if (a.kind === "model") dir = a.dir;
        else adapters.push(a.dir);
      }
      const backend = r.backend ?? runner.defaultBackend;
      const out = await runner.models.withGenerator(dir, adapters, backend, async (e) => {
        const limit = e.model.config.maxPositions;
        const n = promptIds(e.tok, r).length;
        if (n + r.max_new_tokens > limit) {
          throw new ApiError(
            422,
            "invalid_request",
            `max_new_tokens: prompt (${n} tokens) + max_new_tokens (${r.max_new_tokens}) exceeds the model's context (${limit})`,
            "max_new_tokens",
          );
        }
        return await generateWith(e.model, e.tok, e.gen, {
          prompt: r.prompt,
          messages: r.messages,
          tools: r.tools,
          maxNewTokens: r.max_new_tokens,
          temperature: r.temperature,
          topK: r.top_k,
          topP: r.top_p,
          seed: r.seed,
        });
      });
      return c.json(out, 200);
    },
  );
  return app;
}
