/**
 * @module The first-order unlearning loop shared by GA, GradDiff, NPO and the WAGLE variants (open-unlearning
 * `UnlearnTrainer`; WAGLE `src/unlearn/base.py`): each step takes a forget batch and a retain batch (cycling
 * through seeded shuffles), computes γ·L_forget + α·L_retain (losses.ts), clips the global gradient norm,
 * multiplies by the WAGLE mask when given (after clipping, as `mask_gradient`), and takes an AdamW step.
 * Masked-out weights are restored after every step, so they stay exactly as they were even with weight decay.
 * Defaults are scaled to the project's small models (open-unlearning's lr 1e-5 / 10 epochs target 1B-param
 * models): constant lr 1e-4 after no warm-up, 40 steps, batch 8 + 8, weight decay 0, clip 1.0 (HF default).
 * With `targetForgetLoss` the loop stops once the mean forget NLL (all forget rows) reaches it.
 */
import { z } from "npm:zod@4.6.7";
import { makeBatch } from "../data/batch.ts";
import type { Example } from "../data/example.ts";
import type { DecoderConfig } from "../models/config.ts";
import { ModelRunner } from "../models/runner.ts";
import type { Weights } from "../models/weights.ts";
import { evaluateLoss } from "../eval/loss.ts";
import { AdamW } from "../optim/adamw.ts";
import { clipGradNorm } from "../optim/clip.ts";
import { lrAt, SCHEDULES } from "../optim/schedule.ts";
import { shuffledOrder } from "../data/order.ts";
import { type Backend, DEFAULT_BACKEND } from "../runtime/backend.ts";
import { composedLoss, LossRunner, type LossSpec } from "./losses.ts";

/** First-order loop options. */
export const FirstOrderOptionsSchema = z.object({
  steps: z.number().int().positive().max(100_000).default(40).describe("optimizer steps (at most)"),
  lr: z.number().positive().max(1).default(1e-4).describe("peak learning rate"),
  batchSize: z.number().int().positive().max(4096).default(8).describe("forget rows per step"),
  retainBatchSize: z.number().int().positive().max(4096).optional().describe(
    "retain rows per step (default: batch size)",
  ),
  warmup: z.number().int().nonnegative().default(0).describe("linear warm-up steps"),
  schedule: z.enum(SCHEDULES).default("constant").describe("learning-rate schedule after warm-up"),
  weightDecay: z.number().nonnegative().max(1).default(0).describe("decoupled weight decay"),
  maxGradNorm: z.number().nonnegative().default(1).describe("global gradient-norm clip; 0 disables"),
  evalEvery: z.number().int().positive().default(1).describe(
    "with --target-forget-loss: check the forget loss every N steps",
  ),
});
/** Parsed first-order options. */
export type FirstOrderOptions = z.infer<typeof FirstOrderOptionsSchema>;

/** One step's record. */
export interface UnlearnStep {
  step: number;
  loss: number;
  /** Mean token NLL of the step's forget batch (before the update). */
  forgetNll: number;
  gradNorm: number;
}

/** Common knobs of {@link firstOrderUnlearn}. */
export interface FirstOrderRun {
  seed?: number;
  targetForgetLoss?: number;
  /** WAGLE mask: 1 = may change. Parameters without an entry are updated freely. */
  mask?: Map<string, Uint8Array>;
  backend?: Backend;
  log?: (msg: string) => void;
  /** Called after every step. */
  onStep?: (s: UnlearnStep) => void;
  /** Stops the run before its next step (the signal's reason is thrown). */
  signal?: AbortSignal;
}

/** Cycles through a seeded shuffle of `rows`, reshuffling every epoch. */
export function cycler(rows: Example[], seed: number): (n: number) => Example[] {
  let epoch = 0, order = shuffledOrder(rows.length, seed), at = 0;
  return (n) => {
    const out: Example[] = [];
    while (out.length < n) {
      if (at >= order.length) order = shuffledOrder(rows.length, seed + ++epoch), at = 0;
      out.push(rows[order[at++]]);
    }
    return out;
  };
}

/**
 * Unlearn with a composed loss on `weights` (in place); returns the step records.
 *
 * @example
 * ```ts ignore
 * const spec = LossSpecSchema.parse({ forget: "ga", retain: "nll" }); // GradDiff
 * await firstOrderUnlearn(config, weights, forget, retain, spec, FirstOrderOptionsSchema.parse({}), { backend: "node" });
 * ```
 */
export async function firstOrderUnlearn(
  config: DecoderConfig,
  weights: Weights,
  forget: Example[],
  retain: Example[],
  spec: LossSpec,
  o: FirstOrderOptions,
  run: FirstOrderRun = {},
): Promise<UnlearnStep[]> {
  const log = run.log ?? (() => {}), backend = run.backend ?? DEFAULT_BACKEND, seed = run.seed ?? 42;
  if (forget.length === 0) throw new Error("no forget rows");
  const needsRetain = spec.retain !== "none" && spec.alpha > 0;
  if (needsRetain && retain.length === 0) throw new Error(`the ${spec.retain} retain term needs retain rows`);
  const ref = new Map([...weights].map(([k, v]) => [k, Float32Array.from(v)]));
  const runner = new LossRunner(config, backend);
  const plain = new ModelRunner(config, backend);
  const refLogits = async (b: ReturnType<typeof makeBatch>) =>
    (await plain.logits(ref, b)).data as Float32Array;
  const mask = run.mask;
  const opt = new AdamW({
    weightDecay: o.weightDecay,
    afterUpdate: mask
      ? (name, w) => {
        const m = mask.get(name), r = ref.get(name)!;
        if (m) { for (let i = 0; i < w.length; i++) if (!m[i]) w[i] = r[i]; }
      }
      : undefined,
  });
  const nextForget = cycler(forget, seed), nextRetain = needsRetain ? cycler(retain, seed + 1) : undefined;
  const out: UnlearnStep[] = [];
  try {
    for (let step = 1; step <= o.steps; step++) {
      run.signal?.throwIfAborted();
      const fb = makeBatch(nextForget(o.batchSize));
      const rb = nextRetain ? makeBatch(nextRetain(o.retainBatchSize ?? o.batchSize)) : undefined;
      const r = await composedLoss(runner, spec, weights, ref, fb, rb, refLogits);
      const gradNorm = clipGradNorm(r.grads.values(), o.maxGradNorm);
      if (!Number.isFinite(r.loss) || !Number.isFinite(gradNorm)) {
        throw new Error(`unlearn step ${step}: loss ${r.loss}, gradient norm ${gradNorm} (not finite)`);
      }
      if (mask) {
        for (const [k, g] of r.grads) {
          const m = mask.get(k);
          if (m) { for (let i = 0; i < g.length; i++) if (!m[i]) g[i] = 0; }
        }
      }
      opt.update(weights, r.grads, lrAt(o.schedule, o.lr, step - 1, o.steps, o.warmup));
      out.push({ step, loss: r.loss, forgetNll: r.forgetNll, gradNorm });
      run.onStep?.(out.at(-1)!);
      log(
        `unlearn step ${step}/${o.steps} loss ${r.loss.toFixed(4)} forget-batch NLL ${
          r.forgetNll.toFixed(4)
        } |g| ${gradNorm.toFixed(3)}`,
      );
      if (run.targetForgetLoss !== undefined && step % o.evalEvery === 0) {
        const fl = (await evaluateLoss(plain, weights, forget, 16)).loss;
        if (fl >= run.targetForgetLoss) {
          log(
            `unlearn: forget NLL ${fl.toFixed(4)} reached the target ${run.targetForgetLoss} at step ${step}`,
          );
          break;
        }
      }
    }
  } finally {
    await runner.release();
    await plain.release();
  }
  return out;
}
