/**
 * @module `unlearn`: one entry for every method of the CLI contract (DESIGN.md §3):
 *   ga               L = −NLL_f                                    (losses.ts)
 *   graddiff         L = −γ·NLL_f + α·NLL_r                        (open-unlearning GradDiff)
 *   npo              L = γ·NPO_β(f) + α·NLL_r                       (open-unlearning NPO)
 *   wagle-graddiff   GradDiff on the WAGLE mask only                (wagle.ts)
 *   wagle-npo        NPO on the WAGLE mask only
 *   kfade            EK-FAC Gauss-Newton ascent under a retain-KL trust region (kfade.ts)
 * `retainLoss: "kl"` swaps the retain term for KL(p_original ‖ p_θ) in every first-order method.
 * Reports the mean token NLL of the forget and retain rows before and after, and the update θ_after − θ_before.
 */
import { z } from "npm:zod@4.6.7";
import type { Example } from "../data/example.ts";
import type { DecoderConfig } from "../models/config.ts";
import { ModelRunner } from "../models/runner.ts";
import type { Weights } from "../models/weights.ts";
import { evaluateLoss } from "../eval/loss.ts";
import { type Backend, DEFAULT_BACKEND } from "../runtime/backend.ts";
import { LossSpecSchema, RETAIN_LOSSES } from "./losses.ts";
import { FirstOrderOptionsSchema, firstOrderUnlearn } from "./first_order.ts";
import { globalMask, maskDensity, WagleOptionsSchema, wagleScores } from "./wagle.ts";
import { kfade, KfadeOptionsSchema, type KfadeResult } from "./kfade.ts";
import { weightDelta } from "./update.ts";
import type { KfacEigen } from "./kfac.ts";

/** Unlearning methods of the contract. */
export const UNLEARN_METHODS = ["kfade", "wagle-graddiff", "wagle-npo", "ga", "graddiff", "npo"] as const;
/** An unlearning method. */
export type UnlearnMethod = typeof UNLEARN_METHODS[number];

/** Every unlearning option (CLI flags are the kebab-case names). */
export const UnlearnOptionsSchema = z.object({
  method: z.enum(UNLEARN_METHODS).default("kfade").describe("unlearning method"),
  ...FirstOrderOptionsSchema.shape,
  ...KfadeOptionsSchema.shape,
  ...WagleOptionsSchema.shape,
  retainLoss: z.enum(RETAIN_LOSSES).optional().describe(
    "retain term of the first-order methods (default: none for ga, nll otherwise)",
  ),
  alpha: LossSpecSchema.shape.alpha,
  gamma: LossSpecSchema.shape.gamma,
  beta: LossSpecSchema.shape.beta,
  seed: z.number().int().nonnegative().default(42).describe("seed for data order and sampled labels"),
  targetForgetLoss: z.number().positive().optional().describe(
    "stop (first-order) or line-search (kfade) once the mean forget NLL reaches this value",
  ),
});
/** Parsed unlearning options. */
export type UnlearnOptions = z.infer<typeof UnlearnOptionsSchema>;
/** Unlearning options as given. */
export type UnlearnOptionsInput = z.input<typeof UnlearnOptionsSchema>;

/** What {@link unlearn} returns. */
export interface UnlearnResult {
  method: UnlearnMethod;
  forgetLossBefore: number;
  forgetLossAfter: number;
  retainLossBefore: number;
  retainLossAfter: number;
  /** Optimizer steps (first-order) or Gauss-Newton steps (kfade) taken. */
  steps: number;
  seconds: number;
  /** θ_after − θ_before for every weight. */
  update: Map<string, Float32Array>;
  /** Share of weights the WAGLE mask lets change. */
  maskDensity?: number;
  kfade?: KfadeResult;
}

/** The composed loss of a first-order method. */
export function methodLoss(o: UnlearnOptions) {
  const forget = o.method === "npo" || o.method === "wagle-npo" ? "npo" : "ga";
  const retain = o.retainLoss ?? (o.method === "ga" ? "none" : "nll");
  return LossSpecSchema.parse({ forget, retain, alpha: o.alpha, gamma: o.gamma, beta: o.beta });
}

/**
 * Unlearn `forget` from `weights` (in place), keeping `retain`.
 *
 * @example
 * ```ts ignore
 * const r = await unlearn(model.config, model.weights, forgetRows, retainRows, { method: "kfade" }, { backend: "node" });
 * console.log(r.forgetLossBefore, r.forgetLossAfter);
 * ```
 */
export async function unlearn(
  config: DecoderConfig,
  weights: Weights,
  forget: Example[],
  retain: Example[],
  input: UnlearnOptionsInput = {},
  run: {
    backend?: Backend;
    log?: (msg: string) => void;
    /** Rows for retain_loss_before/after (default: all retain rows). */
    evalRetain?: Example[];
    /** K-FADE: a retain curvature fit earlier on these weights (see kfade.ts `fitCurvature`). */
    eig?: KfacEigen;
    /** After every step: its number and the forget NLL (first-order: of the step's forget batch). */
    onStep?: (p: { step: number; forgetLoss: number; loss?: number }) => void;
    /** Stops the run before its next step; the signal's reason is thrown and the weights are half-changed. */
    signal?: AbortSignal;
  } = {},
): Promise<UnlearnResult> {
  const o = UnlearnOptionsSchema.parse(input);
  const backend = run.backend ?? DEFAULT_BACKEND, log = run.log ?? (() => {});
  if (forget.length === 0) throw new Error("no forget rows");
  if (retain.length === 0 && (o.method !== "ga" || o.retainLoss)) {
    throw new Error(`${o.method} needs retain rows`);
  }
  const before = new Map([...weights].map(([k, v]) => [k, Float32Array.from(v)]));
  const evalRunner = new ModelRunner(config, backend);
  const evalRetain = run.evalRetain ?? retain;
  const losses = async () => ({
    forget: (await evaluateLoss(evalRunner, weights, forget, 16)).loss,
    retain: evalRetain.length ? (await evaluateLoss(evalRunner, weights, evalRetain, 16)).loss : NaN,
  });
  const describe = (l: { forget: number; retain: number }) =>
    `forget NLL ${l.forget.toFixed(4)}` +
    (Number.isNaN(l.retain) ? "" : `, retain NLL ${l.retain.toFixed(4)}`);
  const start = await losses();
  log(`unlearn ${o.method}: ${describe(start)}`);
  const t0 = performance.now();
  let steps = 0, density: number | undefined, kf: KfadeResult | undefined;
  if (o.method === "kfade") {
    kf = await kfade(config, weights, forget, retain, o, {
      batchSize: 16,
      seed: o.seed,
      targetForgetLoss: o.targetForgetLoss,
      backend,
      log,
      eig: run.eig,
      signal: run.signal,
      onStep: run.onStep && ((step, s) => run.onStep!({ step, forgetLoss: s.forgetLoss })),
    });
    steps = kf.steps.length;
  } else {
    let mask: Map<string, Uint8Array> | undefined;
    if (o.method.startsWith("wagle-")) {
      const scores = await wagleScores(
        config,
        weights,
        forget,
        retain,
        { ...o, batchSize: o.batchSize },
        backend,
      );
      mask = globalMask(scores, o.maskRatio);
      density = maskDensity(mask);
      log(`wagle: mask keeps ${(100 * density).toFixed(1)} % of the weights trainable`);
    }
    const rec = await firstOrderUnlearn(config, weights, forget, retain, methodLoss(o), o, {
      seed: o.seed,
      targetForgetLoss: o.targetForgetLoss,
      mask,
      backend,
      log,
      signal: run.signal,
      onStep: run.onStep && ((s) => run.onStep!({ step: s.step, loss: s.loss, forgetLoss: s.forgetNll })),
    });
    steps = rec.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  const end = await losses();
  await evalRunner.release();
  log(`unlearn ${o.method}: ${describe(end)}, ${seconds.toFixed(1)} s`);
  return {
    method: o.method,
    forgetLossBefore: start.forget,
    forgetLossAfter: end.forget,
    retainLossBefore: start.retain,
    retainLossAfter: end.retain,
    steps,
    seconds,
    update: weightDelta(before, weights),
    maskDensity: density,
    kfade: kf,
  };
}
