/**
 * @module K-FADE (McKinney et al., "Gauss-Newton Unlearning for the LLM Era", SaTML 2026, arXiv 2602.10568;
 * algorithms.md §6): uphill Gauss-Newton steps on the forget NLL L_f in a retain-KL trust region,
 *   maximise ∇L_fᵀΔ  s.t.  KL_retain(θ ‖ θ + Δ) ≤ ε   ⇒   Δ = η (F_r + λI)⁻¹ ∇L_f,
 * F_r the retain Fisher as EK-FAC (kfac.ts) with labels sampled at `fisherTemperature`. Each step: η reaches
 * the step's share of `targetForgetLoss` (the rest of the gap over the steps left) capped at the measured
 * retain KL ε, or (no target) the largest η within ε; then retain corrections (retain_correction.ts), and F̂
 * is refit before the next step. Where ε binds, more steps follow (up to `kfadeMaxSteps`, then one top-up).
 * Why each part: README "Unlearning". [inferred] (§6.4). Defaults: 3 steps, ε 0.05, λ = 0.01·mean(Λ), T 1,
 * 2 corrections.
 */
import { z } from "npm:zod@4.6.7";
import { batchesOf } from "../data/batch.ts";
import type { Example } from "../data/example.ts";
import type { DecoderConfig } from "../models/config.ts";
import { ModelRunner } from "../models/runner.ts";
import { accumulate, addScaled, type Weights } from "../models/weights.ts";
import { evaluateLoss } from "../eval/loss.ts";
import { klBetween, rowOutputs } from "../eval/unlearn_metrics.ts";
import { type Backend, DEFAULT_BACKEND } from "../runtime/backend.ts";
import {
  eigenFactors,
  fromLogical,
  type KfacEigen,
  KfacFitter,
  type KfacLayer,
  kfacLayers,
  toLogical,
} from "./kfac.ts";
import { LossRunner } from "./losses.ts";
import { Preconditioner } from "./precondition.ts";
import { retainCorrection } from "./retain_correction.ts";
import { measureAt, searchStep } from "./step_search.ts";

/** K-FADE options. */
export const KfadeOptionsSchema = z.object({
  kfadeSteps: z.number().int().positive().max(100).default(3).describe("uphill Gauss-Newton steps K"),
  klBudget: z.number().positive().default(0.05).describe(
    "trust region ε: mean retain KL (nats per answer token) one step may cause, measured on probe rows " +
      "before its correction (with --target-forget-loss: a cap on each step)",
  ),
  kfadeMaxSteps: z.number().int().positive().max(100).optional().describe(
    "with --target-forget-loss: steps at most when ε shortens steps (default 2 × kfade-steps), then one " +
      "top-up if the corrections gave back < 10 % of the forget gap",
  ),
  corrections: z.number().int().nonnegative().max(10).default(2).describe(
    "retain corrections after each step (Gauss-Newton steps back towards the original retain outputs " +
      "that keep the step's first-order forget gain); 0 = none",
  ),
  correctionRows: z.number().int().positive().default(128).describe(
    "retain rows (of the fit rows) the correction's KL gradient is taken on",
  ),
  fisherTemperature: z.number().positive().max(100).default(1).describe(
    "sample the curvature's labels at this temperature (1: the model's own distribution, the true Fisher)",
  ),
  plainKfac: z.boolean().default(false).describe(
    "skip EK-FAC's eigenvalue refit (plain K-FAC eigenvalues λ_S·λ_A)",
  ),
  dampingScale: z.number().positive().default(0.01).describe(
    "damping λ = scale · mean eigenvalue (kronfluence's influence default is 0.1; 0.01 measured better here)",
  ),
  damping: z.number().positive().optional().describe("absolute damping λ (overrides --damping-scale)"),
  noRefit: z.boolean().default(false).describe(
    "keep the first curvature fit for every step (default: refit at the current weights before each later step)",
  ),
  fitRows: z.number().int().positive().default(512).describe("retain rows the curvature is fit on (at most)"),
  probeRows: z.number().int().positive().default(64).describe(
    "retain rows (after the fit rows) on which each step's retain KL is measured",
  ),
  fisherSamples: z.number().int().positive().max(16).default(1).describe("sampled labels per position"),
  modules: z.string().optional().describe(
    "comma-separated module-name suffixes to update (default: all linear)",
  ),
});
/** Parsed K-FADE options. */
export type KfadeOptions = z.infer<typeof KfadeOptionsSchema>;

/** One step's record. */
export interface KfadeStep {
  eta: number;
  /** ½η²PᵀFP: the K-FAC quadratic model's retain KL of the step. */
  predictedKl: number;
  /** The step's measured mean KL(before ‖ after) on the retain probe rows, before its correction (NaN when not measured). */
  retainKl: number;
  /** Forget NLL after the step (and its correction). */
  forgetLoss: number;
  /** Forget NLL gained by the step (and its correction); NaN when not measured. */
  gain?: number;
  /** The retain-KL cap ε shortened the step. */
  capped?: boolean;
  /** KL_retain(original ‖ θ) on the probe rows after the step, before and after its correction. */
  klToOriginal?: number;
  klCorrected?: number;
}

/** Result of {@link kfade}. */
export interface KfadeResult {
  /** U = Σ η_k Δ_k by weight name (storage layout). */
  update: Map<string, Float32Array>;
  steps: KfadeStep[];
  /** The curvature fit at the original weights (what `saveKfadeFactors` stores) and its damping. */
  eig: KfacEigen;
  damping: Map<string, number>;
  /** Seconds spent on the first curvature fit (refits are part of the steps). */
  fitSeconds: number;
}

/** Common knobs besides {@link KfadeOptions}. */
export interface KfadeRun {
  batchSize?: number;
  seed?: number;
  /** Stop at (line-search to) this mean forget NLL. */
  targetForgetLoss?: number;
  backend?: Backend;
  log?: (msg: string) => void;
  /** Curvature fit earlier on the same weights and retain rows (skips the fit). */
  eig?: KfacEigen;
  /** Called after every step. */
  onStep?: (k: number, s: KfadeStep) => void;
  /** Stops the run before its next step or refit (the signal's reason is thrown). */
  signal?: AbortSignal;
}

/** The layers K-FADE updates. */
export function kfadeLayers(config: DecoderConfig, modules?: string): KfacLayer[] {
  const suffixes = modules?.split(",").map((s) => s.trim()).filter(Boolean);
  const layers = kfacLayers(config, (m) => !suffixes || suffixes.some((s) => m.endsWith(s)));
  if (layers.length === 0) throw new Error(`--modules ${modules}: matches no linear layer`);
  return layers;
}

/** Mean-NLL gradient of `rows` for the layers' weights (and biases), by weight name. */
export async function forgetGradient(runner: ModelRunner, w: Weights, rows: Example[], batchSize: number) {
  const total = rows.reduce((s, e) => s + e.labels.filter((l) => l !== -100).length, 0);
  if (total === 0) throw new Error("the forget data has no target tokens");
  const acc = new Map<string, Float32Array>();
  let loss = 0;
  for (const b of batchesOf(rows, batchSize)) {
    const r = await runner.lossAndGrad(w, b, 1 / total);
    loss += r.lossSum;
    accumulate(acc, r.grads);
  }
  return { loss, grads: acc };
}

/**
 * Fit the retain curvature of `layers`: K-FAC factors with sampled labels, eigendecomposition, optional EK-FAC
 * refit.
 *
 * @example
 * ```ts ignore
 * const eig = await fitCurvature(config, weights, retainRows, kfadeLayers(config), KfadeOptionsSchema.parse({}));
 * ```
 */
export async function fitCurvature(
  config: DecoderConfig,
  weights: Weights,
  rows: Example[],
  layers: KfacLayer[],
  o: Pick<KfadeOptions, "fisherSamples" | "plainKfac"> & { fisherTemperature?: number },
  run: { batchSize?: number; seed?: number; backend?: Backend } = {},
): Promise<KfacEigen> {
  const fitter = new KfacFitter(config, layers, run.backend ?? DEFAULT_BACKEND);
  const batches = batchesOf(rows, run.batchSize ?? 16);
  let eig = eigenFactors(
    await fitter.factors(weights, batches, {
      samples: o.fisherSamples,
      seed: run.seed,
      temperature: o.fisherTemperature,
    }),
  );
  if (!o.plainKfac) {
    eig = await fitter.refit(weights, batches, eig, { seed: run.seed, temperature: o.fisherTemperature });
  }
  await fitter.release();
  return eig;
}

/**
 * Run K-FADE on `weights` (updated in place): fit the retain curvature, then K preconditioned ascent steps.
 *
 * @example
 * ```ts ignore
 * const r = await kfade(config, weights, forgetRows, retainRows, KfadeOptionsSchema.parse({}), { backend: "node" });
 * ```
 */
export async function kfade(
  config: DecoderConfig,
  weights: Weights,
  forget: Example[],
  retain: Example[],
  o: KfadeOptions,
  run: KfadeRun = {},
): Promise<KfadeResult> {
  const log = run.log ?? (() => {}), bs = run.batchSize ?? 16, backend = run.backend ?? DEFAULT_BACKEND;
  if (retain.length === 0) throw new Error("kfade needs retain rows (the curvature is fit on them)");
  const layers = kfadeLayers(config, o.modules);
  const t0 = performance.now();
  const eig = run.eig ??
    await fitCurvature(config, weights, retain.slice(0, o.fitRows), layers, o, {
      batchSize: bs,
      seed: run.seed,
      backend,
    });
  const fitSeconds = (performance.now() - t0) / 1000;
  log(
    `kfade: ${o.plainKfac ? "K-FAC" : "EK-FAC"} on ${
      Math.min(o.fitRows, retain.length)
    } retain rows, ${layers.length} layers, ${fitSeconds.toFixed(1)} s`,
  );
  const damping = { damping: o.damping, dampingScale: o.dampingScale };
  let pre = new Preconditioner(eig, damping, backend);
  const firstDamping = pre.damping;
  const names = new Set(layers.flatMap((l) => (l.bias ? [l.weight, l.bias] : [l.weight])));
  const runner = new ModelRunner(config, backend, (n) => names.has(n));
  const plain = new ModelRunner(config, backend);
  const klRunner = new LossRunner(config, backend, (n) => names.has(n));
  const forgetLoss = async () => (await evaluateLoss(plain, weights, forget, bs)).loss;
  // retain probe for the measured trust region: rows the curvature was not fit on, when there are any
  const fitRows = retain.slice(0, o.fitRows);
  const probe = (retain.length > o.fitRows ? retain.slice(o.fitRows) : retain).slice(0, o.probeRows);
  const probeOutputs = () => rowOutputs(plain, weights, probe, { keepDist: true });
  // the original weights (K-FADE changes only the layers': the rest is shared)
  const origin: Weights = new Map([...weights].map(([n, v]) => [n, names.has(n) ? Float32Array.from(v) : v]));
  const atOrigin = await probeOutputs();
  const klToOriginal = async () => klBetween(atOrigin, await probeOutputs());
  const update = new Map([...names].map((n) => [n, new Float32Array(weights.get(n)!.length)]));
  const steps: KfadeStep[] = [];
  const target = run.targetForgetLoss, start = await forgetLoss();
  const maxSteps = target === undefined ? o.kfadeSteps : o.kfadeMaxSteps ?? 2 * o.kfadeSteps;
  try {
    let fittedAt = 0;
    // with a target, one top-up may follow the last step
    while (steps.length < maxSteps + (target === undefined ? 0 : 1)) {
      run.signal?.throwIfAborted();
      const { loss, grads } = await forgetGradient(runner, weights, forget, bs);
      if (target !== undefined && loss >= target) break;
      // a top-up (what corrections gave back, < 10 % of the gap) keeps the last fit: it moves too little to age it
      const topUp = target !== undefined && steps.length > 0 && target - loss < 0.1 * (target - start);
      if (steps.length >= maxSteps && !topUp) break;
      if (steps.length > fittedAt && !o.noRefit && !topUp) {
        run.signal?.throwIfAborted();
        const t1 = performance.now();
        await pre.release();
        const fresh = await fitCurvature(config, weights, fitRows, layers, o, {
          batchSize: bs,
          seed: (run.seed ?? 0) + steps.length + 1,
          backend,
        });
        pre = new Preconditioner(fresh, damping, backend);
        fittedAt = steps.length;
        log(
          `kfade: refit the curvature at step ${steps.length + 1} (${
            ((performance.now() - t1) / 1000).toFixed(1)
          } s)`,
        );
      }
      const g = toLogical(layers, grads);
      const { P, quad, lin } = await pre.apply(g);
      const dir = fromLogical(layers, P);
      const here = await probeOutputs();
      const stepKl = async () => klBetween(here, await probeOutputs());
      // first guesses: the quadratic model's trust-region step, or the first-order model reaching the goal
      const etaKl = Math.sqrt((2 * o.klBudget) / quad);
      let eta: number, capped = false;
      if (target !== undefined) {
        const goal = loss + (target - loss) / Math.max(1, o.kfadeSteps - steps.length);
        eta = await searchStep(weights, dir, (goal - loss) / lin, goal, forgetLoss, "reach");
        if ((await measureAt(weights, dir, eta, stepKl)) > o.klBudget) {
          eta = await searchStep(weights, dir, eta, o.klBudget, stepKl, "stay-below");
          capped = true;
        }
      } else eta = await searchStep(weights, dir, etaKl, o.klBudget, stepKl, "stay-below");
      if (!(eta > 0)) {
        log(`kfade: no step within the retain-KL budget ${o.klBudget} at step ${steps.length + 1}; stopping`);
        break;
      }
      addScaled(weights, dir, eta);
      addScaled(update, dir, eta);
      const step: KfadeStep = {
        eta,
        predictedKl: 0.5 * eta * eta * quad,
        retainKl: await stepKl(),
        forgetLoss: NaN,
        capped,
      };
      for (let c = 0; c < o.corrections; c++) {
        const fix = await retainCorrection(
          {
            layers,
            pre,
            loss: klRunner,
            plain,
            origin,
            rows: fitRows.slice(0, o.correctionRows),
            batchSize: bs,
            retainKl: klToOriginal,
            forgetLoss,
          },
          weights,
          P,
          g,
          lin,
          loss,
        );
        step.klToOriginal ??= fix.klBefore;
        step.klCorrected = fix.klAfter;
        if (fix.eta === 0) break;
        addScaled(update, fix.dir, fix.eta);
      }
      step.forgetLoss = await forgetLoss();
      step.gain = step.forgetLoss - loss;
      steps.push(step);
      run.onStep?.(steps.length, step);
      log(
        `kfade step ${steps.length}: η ${eta.toExponential(3)}${capped ? " (capped by ε)" : ""}, retain KL ` +
          `${step.retainKl.toFixed(4)} (K-FAC model ${step.predictedKl.toExponential(2)})` +
          (step.klToOriginal === undefined
            ? ""
            : `, KL to the original ${step.klToOriginal.toFixed(4)} → ${
              step.klCorrected!.toFixed(4)
            } corrected`) +
          `, forget NLL ${loss.toFixed(4)} → ${step.forgetLoss.toFixed(4)}`,
      );
    }
  } finally {
    await runner.release();
    await plain.release();
    await klRunner.release();
    await pre.release();
  }
  return { update, steps, eig, damping: firstDamping, fitSeconds };
}
