/**
 * @module `POST /v1/plan` with a job's body (as `POST /v1/jobs` takes it) → the memory the job
 * needs, itemised, and the budgets it fits (`src/jobs/plan_job.ts`). With a memory budget
 * (`POSTTRAIN_MEMORY_BUDGET`, MiB), {@link budgetGuard} refuses a `POST /v1/jobs` that does not fit
 * with a 422 whose error body carries the plan.
 */
import { createRoute, type OpenAPIHono, z } from "npm:@hono/zod-openapi@1.6.3";
import type { MiddlewareHandler } from "npm:hono@4.13.19";
import { JobRequestSchema, parseJobRequest } from "../src/jobs/spec.ts";
import { checkBudget, planJob, PlanSchema } from "../src/jobs/plan_job.ts";
import type { ModelRegistry } from "../src/jobs/models.ts";
import type { Backend } from "../src/runtime/backend.ts";
import { BODY_ERRORS, errorResponse, ErrorSchema, newApp, sendError } from "./_common.ts";
import { PosttrainError } from "../src/errors.ts";

/** What the plan routes need from the service. */
export interface PlanContext {
  models: ModelRegistry;
  defaultBackend: Backend;
  /** The server's memory budget in MiB (POSTTRAIN_MEMORY_BUDGET); none: no check at submit. */
  budgetMb?: number;
}

/** The error body of a job refused for its memory: the error plus the plan. */
export const OverBudgetSchema = z.object({
  error: ErrorSchema.shape.error.extend({ plan: PlanSchema.describe("the plan of the refused job") }),
}).openapi("OverBudgetError");

/** `POST /v1/plan`. */
export function planRoutes(ctx: PlanContext): OpenAPIHono {
  const app = newApp();
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/plan",
      operationId: "planJob",
      tags: ["jobs"],
      summary: "Plan a job's memory before submitting it",
      description: "Takes the body `POST /v1/jobs` takes and answers the bytes the job needs, itemised " +
        "(runtime, weights, arena, optimizer state, gradients), whether the figure is exact (the lean " +
        "backend's static plan) or an estimate, and which budgets it fits (128 / 256 / 512 MB, the " +
        "server's POSTTRAIN_MEMORY_BUDGET and `budget`). Row errors are 422s naming the row, as at submit. " +
        "Fine-tune and eval jobs are planned as they run; first-order unlearn jobs are an estimate; " +
        "kfade unlearn jobs and coreset jobs are refused (422 not_plannable).",
      security: [{ Bearer: [] }],
      request: {
        query: z.object({
          budget: z.coerce.number().positive().max(1_048_576).optional().describe(
            "also check this budget, in MiB",
          ),
        }),
        body: { required: true, content: { "application/json": { schema: JobRequestSchema } } },
      },
      responses: {
        200: { description: "the plan", content: { "application/json": { schema: PlanSchema } } },
        ...BODY_ERRORS,
        404: errorResponse("unknown model"),
      },
    }),
    async (c) => {
      const extra = c.req.valid("query").budget;
      const plan = await planJob(c.req.valid("json"), ctx.models, ctx.defaultBackend, ctx.budgetMb);
      if (extra && extra !== ctx.budgetMb) {
        plan.fits[`${extra}MB`] = plan.total_bytes <= extra * (1 << 20);
      }
      return c.json(plan, 200);
    },
  );
  return app;
}

/**
 * Middleware for `POST /v1/jobs`: with a budget, a job whose plan does not fit is refused (422
 * `over_budget`, the plan in the error body). Bodies that do not validate, and jobs the planner
 * cannot plan, go on to the route, which reports or runs them as without a budget.
 *
 * @example
 * ```ts ignore
 * app.use("/v1/jobs", budgetGuard({ models, defaultBackend: "lean", budgetMb: 256 }));
 * ```
 */
export function budgetGuard(ctx: PlanContext): MiddlewareHandler {
  return async (c, next) => {
    if (!ctx.budgetMb || c.req.method !== "POST") return await next();
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return await next();
    }
    let req;
    try {
      req = parseJobRequest(body);
    } catch {
      return await next();
    }
    try {
      await checkBudget(req, ctx.models, ctx.defaultBackend, ctx.budgetMb);
    } catch (e) {
      if (e instanceof PosttrainError) return sendError(c, e);
      throw e;
    }
    await next();
  };
}
