/** @module `GET /v1/jobs/:id/history`: the progress points a job went through, for its curves. */
import { createRoute, type OpenAPIHono, z } from "npm:@hono/zod-openapi@1.6.3";
import type { JobRunner } from "../src/jobs/runner.ts";
import { HISTORY_COLUMNS, MAX_POINTS } from "../src/jobs/history.ts";
import { errorResponse, JOB_ID_RE, jobNotFound, newApp } from "./_common.ts";

const History = z.object({
  columns: z.array(z.enum(HISTORY_COLUMNS)).describe("what each point holds, in order"),
  data: z.array(z.array(z.number().nullable())).describe(
    `points in step order (null: not reported); at most ${MAX_POINTS}, evenly thinned on long runs`,
  ),
}).openapi("JobHistory");

/** History route over a runner. */
export function historyRoutes(runner: JobRunner): OpenAPIHono {
  return newApp().openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs/{id}/history",
      operationId: "getJobHistory",
      tags: ["jobs"],
      summary: "A job's progress points so far (loss, lr, gradient norm, tokens/s by step)",
      request: {
        params: z.object({
          id: z.string().openapi({ param: { name: "id", in: "path" }, example: "job_mhx3k2a0_9f2c41d7" }),
        }),
      },
      responses: {
        200: { description: "the points", content: { "application/json": { schema: History } } },
        401: errorResponse("missing or wrong bearer token (POSTTRAIN_TOKEN set, reads not public)"),
        404: errorResponse("no such job"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const j = JOB_ID_RE.test(id) ? await runner.store.get(id) : undefined;
      if (!j) throw jobNotFound(id);
      return c.json({ columns: [...HISTORY_COLUMNS], data: j.history?.points ?? [] }, 200);
    },
  );
}
