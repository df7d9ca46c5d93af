/**
 * @module K-FADE (McKinney et al., "Gauss-Newton Unlearning for the LLM Era", SaTML 2026, arXiv 2602.10568;
 * algorithms.md §6): uphill Gauss-Newton steps on the forget loss in a retain-KL trust region,
 *   maximise ∇L_fᵀΔ  s.t.  KL_retain(θ ‖ θ + Δ) ≤ ε   ⇒   Δ = η (F_r + λI)⁻¹ ∇L_f,
 * F_r the retain Fisher (= GGN) as K-FAC / EK-FAC (kfac.ts), L_f the mean token NLL of the forget answers, ε
 * the mean KL per retain answer token. η starts at √(2ε / PᵀF̂P), is then sized on the KL measured on retain
 * probe rows, and F̂ is refit before every later step (why: README "Unlearning"). The paper's code is not
 * public: steps, ε, refits and the step rule are [inferred] (§6.4). Defaults: EK-FAC, 3 steps, ε 0.05,
 * λ = 0.01·mean(Λ), 512 retain rows, every attention / MLP linear (§6.3). `targetForgetLoss`: step k sizes η
 * to reach k/K of the way there. Returns U = Σ η_k Δ_k for re-applying later (update.ts).
 */
import { z } from "npm:zod@4.6.7";
import { batchesOf } from "../data/batch.ts";
import type { Example } from "../data/example.ts";
import type { DecoderConfig } from "../models/config.ts";
import { ModelRunner } from "../models/runner.ts";
import { addScaled, type Weights } from "../models/weights.ts";
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
import { Preconditioner } from "./precondition.ts";

/** K-FADE options. */
export const KfadeOptionsSchema = z.object({
  kfadeSteps: z.number().int().positive().max(100).default(3).describe("uphill Gauss-Newton steps K"),
  klBudget: z.number().positive().default(0.05).describe(
    "trust region ε: mean retain KL (nats per answer token) one step may cause, measured on probe rows",
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
  /** The step's measured mean KL(before ‖ after) on the retain probe rows (NaN when not measured). */
  retainKl: number;
  forgetLoss: number;
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
    for (const [k, g] of r.grads) {
      const a = acc.get(k);
      if (!a) acc.set(k, Float32Array.from(g));
      else for (let i = 0; i < g.length; i++) a[i] += g[i];
    }
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
  o: Pick<KfadeOptions, "fisherSamples" | "plainKfac">,
  run: { batchSize?: number; seed?: number; backend?: Backend } = {},
): Promise<KfacEigen> {
  const fitter = new KfacFitter(config, layers, run.backend ?? DEFAULT_BACKEND);
  const batches = batchesOf(rows, run.batchSize ?? 16);
  let eig = eigenFactors(
    await fitter.factors(weights, batches, { samples: o.fisherSamples, seed: run.seed }),
  );
  if (!o.plainKfac) eig = await fitter.refit(weights, batches, eig, { seed: run.seed });
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
    await fitCurvature(config, weights, retain.slice(0, o.fitRows), layers, o, { ...run, batchSize: bs });
  const fitSeconds = (performance.now() - t0) / 1000;
  log(
    `kfade: ${o.plainKfac ? "K-FAC" : "EK-FAC"} on ${
      Math.min(o.fitRows, retain.length)
    } retain rows, ${layers.length} layers, ${fitSeconds.toFixed(1)} s`,
  );
  let pre = new Preconditioner(eig, { damping: o.damping, dampingScale: o.dampingScale }, backend);
  const firstDamping = pre.damping;
  const names = new Set(layers.flatMap((l) => (l.bias ? [l.weight, l.bias] : [l.weight])));
  const runner = new ModelRunner(config, backend, (n) => names.has(n));
  const plain = new ModelRunner(config, backend);
  const forgetLoss = async () => (await evaluateLoss(plain, weights, forget, bs)).loss;
  // retain probe for the measured trust region: rows the curvature was not fit on, when there are any
  const probe = (retain.length > o.fitRows ? retain.slice(o.fitRows) : retain).slice(0, o.probeRows);
  const update = new Map([...names].map((n) => [n, new Float32Array(weights.get(n)!.length)]));
  const steps: KfadeStep[] = [];
  try {
    const start = await forgetLoss(), target = run.targetForgetLoss;
    for (let k = 1; k <= o.kfadeSteps; k++) {
      run.signal?.throwIfAborted();
      const { loss, grads } = await forgetGradient(runner, weights, forget, bs);
      if (target !== undefined && loss >= target) break;
      if (k > 1 && !o.noRefit) {
        run.signal?.throwIfAborted();
        const t1 = performance.now();
        await pre.release();
        const fresh = await fitCurvature(config, weights, retain.slice(0, o.fitRows), layers, o, {
          batchSize: bs,
          seed: (run.seed ?? 0) + k,
          backend,
        });
        pre = new Preconditioner(fresh, { damping: o.damping, dampingScale: o.dampingScale }, backend);
        log(`kfade: refit the curvature at step ${k} (${((performance.now() - t1) / 1000).toFixed(1)} s)`);
      }
      const { P, quad } = await pre.apply(toLogical(layers, grads));
      const dir = fromLogical(layers, P);
      const eta0 = Math.sqrt((2 * o.klBudget) / Math.max(quad, 1e-30)); // the quadratic model's trust-region step
      const here = await rowOutputs(plain, weights, probe, { keepDist: true });
      const retainKl = async () =>
        klBetween(here, await rowOutputs(plain, weights, probe, { keepDist: true }));
      const eta = target !== undefined
        ? await searchStep(
          weights,
          dir,
          eta0,
          start + ((target - start) * k) / o.kfadeSteps,
          forgetLoss,
          "reach",
        )
        : await searchStep(weights, dir, eta0, o.klBudget, retainKl, "stay-below");
      addScaled(weights, dir, eta);
      addScaled(update, dir, eta);
      const step = {
        eta,
        predictedKl: 0.5 * eta * eta * quad,
        retainKl: await retainKl(),
        forgetLoss: await forgetLoss(),
      };
      steps.push(step);
      run.onStep?.(k, step);
      log(
        `kfade step ${k}: η ${eta.toExponential(3)}, retain KL ${step.retainKl.toFixed(4)} (K-FAC model ` +
          `${step.predictedKl.toExponential(2)}), forget NLL ${loss.toFixed(4)} → ${
            step.forgetLoss.toFixed(4)
          }`,
      );
    }
  } finally {
    await runner.release();
    await plain.release();
    await pre.release();
  }
  return { update, steps, eig, damping: firstDamping, fitSeconds };
}

/**
 * η along `dir` where `crit(θ + ηΔ)` (increasing in η) meets `goal`: bracket by factors of 4 from `eta0`, then
 * 6 geometric bisections. "reach": the smallest bracketed η with crit ≥ goal; "stay-below": the largest with
 * crit ≤ goal. The weights are restored after each trial.
 */
export async function searchStep(
  w: Weights,
  dir: Map<string, Float32Array>,
  eta0: number,
  goal: number,
  crit: () => Promise<number>,
  side: "reach" | "stay-below",
): Promise<number> {
  const saved = new Map([...dir.keys()].map((k) => [k, Float32Array.from(w.get(k)!)]));
  const at = async (eta: number) => {
    addScaled(w, dir, eta);
    const c = await crit();
    for (const [k, v] of saved) w.get(k)!.set(v);
    return Number.isFinite(c) ? c : Infinity;
  };
  let lo = eta0, hi = eta0;
  if ((await at(eta0)) < goal) {
    for (let i = 0; i < 8 && (await at(hi *= 4)) < goal; i++) lo = hi;
    if (lo === hi) return hi; // never reached the goal: take the largest step tried
  } else {
    for (let i = 0; i < 12 && (await at(lo /= 4)) >= goal; i++) hi = lo;
    if (lo === hi) return side === "reach" ? hi : 0;
  }
  for (let i = 0; i < 6; i++) {
    const mid = Math.sqrt(lo * hi);
    if ((await at(mid)) < goal) lo = mid;
    else hi = mid;
  }
  return side === "reach" ? hi : lo;
}
