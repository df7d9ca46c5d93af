/**
 * @module The memory plan of a job request (`POST /v1/plan`, and the submit-time check against
 * `POSTTRAIN_MEMORY_BUDGET`): the request's rows are tokenized to find the step's shape (rows per
 * step, longest row; on `lean` rounded up to the trainer's steps of 16), then `planRun` answers the
 * bytes. Fine-tune and eval jobs are planned as they run. First-order unlearn jobs are an estimate,
 * labelled so: a full-weight AdamW step whose forget and retain gradients are summed (held in full,
 * not streamed) on the larger of the two batches, plus the frozen copy of the original weights the
 * loop keeps (and the reference logits of a KL retain term). K-FADE and coreset jobs are refused
 * with a 422 naming what the planner does not model.
 */
import { z } from "npm:zod@4.6.7";
import type { Example } from "../data/example.ts";
import { paramSpecs } from "../models/model.ts";
import type { Backend } from "../runtime/backend.ts";
import { BUDGETS_MB, type PlanRequest, planRun, type RunPlan } from "../train/plan.ts";
import { PosttrainError } from "../errors.ts";
import { splitList } from "../util/list.ts";
import type { JobRequest } from "./spec.ts";
import type { ModelRegistry } from "./models.ts";

/** The plan of a job as `POST /v1/plan` answers it. */
export const PlanSchema = z.object({
  total_bytes: z.number().int().describe("bytes the whole process needs at its peak (the sum of the items)"),
  items: z.object({
    runtime_bytes: z.number().int().describe("the runtime before any model work (measured constant)"),
    weights_bytes: z.number().int().describe("model weights (quantized where the method quantizes)"),
    arena_bytes: z.number().int().describe(
      "activations and intermediates of one step: lean's static plan, else an estimate",
    ),
    optimizer_bytes: z.number().int().describe("optimizer state (AdamW moments, projectors)"),
    gradient_bytes: z.number().int().describe("gradients held during the step"),
    reference_bytes: z.number().int().optional().describe(
      "unlearn: the frozen copy of the original weights (+ reference logits of a KL retain term)",
    ),
  }).describe("bytes by item"),
  exact: z.boolean().describe("true when every item is counted from the static plan (lean)"),
  fits: z.record(z.string(), z.boolean()).describe(
    'budgets the job fits, e.g. {"128MB": false, "256MB": true, "512MB": true}',
  ),
  basis: z.string().describe("what was planned, and where the figure is an estimate, why"),
  shape: z.object({
    backend: z.string().describe("backend the job would run on"),
    method: z.string().describe("what was planned: a fine-tuning method, eval, or the unlearn stand-in"),
    batch_size: z.number().int().describe("rows per step"),
    seq_len: z.number().int().describe("tokens per row (the longest row, padded as the backend pads)"),
  }).describe("the step that was planned"),
  budget_mb: z.number().optional().describe("the server's POSTTRAIN_MEMORY_BUDGET, when set"),
}).meta({ id: "Plan", description: "The memory a job needs, itemised, and the budgets it fits" });

/** A job's plan. */
export type JobPlan = z.infer<typeof PlanSchema>;

/** Tokens per row a backend pads a batch to (lean plans per shape in steps of 16; see the trainer). */
function padded(len: number, backend: Backend): number {
  return backend === "lean" ? Math.ceil(len / 16) * 16 : len;
}

const longest = (ex: Example[]) => Math.max(1, ...ex.map((e) => e.inputIds.length));
const MiB = 1 << 20;

function notPlannable(what: string, field: string): PosttrainError {
  return new PosttrainError("not_plannable", `${field}: ${what}`, field);
}

/**
 * Plan a validated job request: its rows are tokenized (row errors are 422s naming the row), the
 * step's shape found, and the bytes planned; `budgetMb` is also checked and reported.
 *
 * @example
 * ```ts ignore
 * const plan = await planJob(parseJobRequest(body), registry, "wasm", 300);
 * plan.fits["300MB"]; // false when the job needs more
 * ```
 */
export async function planJob(
  req: JobRequest,
  models: ModelRegistry,
  defaultBackend: Backend,
  budgetMb?: number,
): Promise<JobPlan> {
  const dir = await models.resolve(req.model);
  const config = await models.config(dir);
  const backend = req.backend ?? defaultBackend;
  const extra = budgetMb ? [budgetMb] : [];
  const encode = (rows: Parameters<ModelRegistry["encode"]>[1], field: string) =>
    models.encode(dir, rows, req.truncate, field);
  const shape = (method: string, batch: number, len: number) => ({
    backend,
    method,
    batch_size: batch,
    seq_len: padded(len, backend),
  });
  const done = (
    plan: RunPlan | Omit<JobPlan, "basis" | "shape">,
    basis: string,
    s: JobPlan["shape"],
  ): JobPlan => ({
    ...plan,
    basis,
    shape: s,
    ...(budgetMb ? { budget_mb: budgetMb } : {}),
  });
  switch (req.type) {
    case "finetune": {
      let ex = await encode(req.data, "data");
      if (req.data_indices) ex = req.data_indices.filter((i) => i < ex.length).map((i) => ex[i]);
      const s = shape(req.method, Math.min(req.batch_size, ex.length), longest(ex));
      const plan = await planRun({
        config,
        method: req.method,
        batchSize: s.batch_size,
        seqLen: s.seq_len,
        backend,
        rank: req.rank,
        targets: req.targets === undefined ? undefined : splitList(req.targets),
        gradAccum: req.grad_accum,
        maxGradNorm: req.max_grad_norm,
        momentBits: req.moment_bits,
        ...(req.method === "lora" && req.base_bits ? { baseBits: req.base_bits } : {}),
      }, extra);
      return done(
        plan,
        `a ${req.method} fine-tuning step of ${s.batch_size} × ${s.seq_len} tokens on ${backend}` +
          (plan.exact ? " (exact: lean's static plan)" : " (estimate: onnxruntime's arena is not planned)"),
        s,
      );
    }
    case "eval": {
      const ex = await encode(req.data, "data");
      const s = shape("eval", Math.min(req.batch_size, ex.length), longest(ex));
      const plan = await planRun({
        config,
        method: "eval",
        batchSize: s.batch_size,
        seqLen: s.seq_len,
        backend,
      }, extra);
      return done(
        plan,
        `an eval batch of ${s.batch_size} × ${s.seq_len} tokens on ${backend}` +
          (plan.exact ? " (exact)" : " (estimate)"),
        s,
      );
    }
    case "unlearn": {
      if (req.method === "kfade") {
        throw notPlannable(
          "kfade is not plannable (its K-FAC factors and their eigendecompositions are not modelled by the planner); " +
            "the first-order methods ga, graddiff, npo, wagle-graddiff and wagle-npo are",
          "method",
        );
      }
      const forget = await encode(req.forget, "forget");
      const retain = req.retain ? await encode(req.retain, "retain") : [];
      const batch = Math.max(
        Math.min(req.batch_size, forget.length),
        retain.length ? Math.min(req.retain_batch_size ?? req.batch_size, retain.length) : 0,
      );
      const s = shape("full", batch, Math.max(longest(forget), retain.length ? longest(retain) : 1));
      const stand: PlanRequest = {
        config,
        method: "full",
        batchSize: s.batch_size,
        seqLen: s.seq_len,
        backend,
        gradAccum: 2, // the forget and retain terms' gradients are summed: held in full, not streamed
      };
      const plan = await planRun(stand, extra);
      const params = paramSpecs(config).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
      const kl = req.retain_loss === "kl";
      const reference = 4 * params + (kl ? 4 * s.batch_size * s.seq_len * config.vocabSize : 0);
      const total = plan.total_bytes + reference;
      const fits: Record<string, boolean> = {};
      for (const b of [...BUDGETS_MB, ...extra]) fits[`${b}MB`] = total <= b * MiB;
      return done(
        { total_bytes: total, items: { ...plan.items, reference_bytes: reference }, exact: false, fits },
        `estimate: unlearn ${req.method} planned as a full-weight AdamW step of ${s.batch_size} × ${s.seq_len} ` +
          `tokens on ${backend} (the larger of the forget and retain batches; both terms' gradients held in full), ` +
          `plus the frozen copy of the original weights${
            kl ? " and the reference logits of the KL retain term" : ""
          }`,
        s,
      );
    }
    case "coreset":
      throw notPlannable(
        `coreset jobs (${req.method}) are not plannable: their per-row losses and gradient sketches are not ` +
          "modelled by the planner",
        "type",
      );
  }
}

/**
 * The 422 of a job that does not fit the server's memory budget, with the plan in the error body
 * (`{"error":{"code":"over_budget","message","path","plan"}}`).
 */
export class OverBudgetError extends PosttrainError {
  /**
   * @example
   * ```ts ignore
   * if (!plan.fits[`${budget}MB`]) throw new OverBudgetError(plan, budget);
   * ```
   */
  constructor(readonly plan: JobPlan, readonly budgetMb: number) {
    super(
      "over_budget",
      `the job needs ${(plan.total_bytes / MiB).toFixed(1)} MiB, more than the server's memory budget of ` +
        `${budgetMb} MiB (POSTTRAIN_MEMORY_BUDGET)${plan.exact ? "" : "; the figure is an estimate"}`,
    );
    this.name = "OverBudgetError";
  }

  override toJSON(): { error: { code: string; message: string; path?: string; plan: JobPlan } } {
    return { error: { ...super.toJSON().error, plan: this.plan } };
  }
}

/**
 * Refuse a job that does not fit `budgetMb` (throws {@link OverBudgetError}); a job the planner
 * cannot plan (K-FADE, coreset) is let through.
 *
 * @example
 * ```ts ignore
 * await checkBudget(parseJobRequest(body), registry, "wasm", 256);
 * ```
 */
export async function checkBudget(
  req: JobRequest,
  models: ModelRegistry,
  defaultBackend: Backend,
  budgetMb: number,
): Promise<JobPlan | undefined> {
  let plan: JobPlan;
  try {
    plan = await planJob(req, models, defaultBackend, budgetMb);
  } catch (e) {
    if (e instanceof PosttrainError && e.code === "not_plannable") return undefined;
    throw e;
  }
  if (!plan.fits[`${budgetMb}MB`]) throw new OverBudgetError(plan, budgetMb);
  return plan;
}
