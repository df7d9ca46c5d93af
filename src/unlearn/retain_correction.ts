/**
 * @module K-FADE's retain correction after a step (a second-order correction as in trust-region SQP,
 * Nocedal & Wright §15.6: the step was sized on a linear/quadratic model, the retain constraint is then
 * re-evaluated where the step landed and restored with the same curvature):
 *   R(θ) = KL_retain(p_θ0 ‖ p_θ)   (θ0 = the weights before unlearning; mean per answer token)
 *   Δ_c = −[(F + λI)⁻¹∇R − α P],  α = ∇RᵀP / ∇L_fᵀP,   so ∇L_fᵀΔ_c = 0 (first-order forget gain kept),
 * P = (F + λI)⁻¹∇L_f the step's direction. η_c: the linear model R − η·∇RᵀΔ_c reaching 0, then the best of
 * ×{¼, ½, 1, 2, 4} on the R measured on the probe rows, among the η keeping ≥ 90 % of the step's forget gain
 * (none lowers R: no correction). ∇R is taken on `rows` (the fit rows), R measured on the probe rows.
 */
import { batchesOf } from "../data/batch.ts";
import type { Example } from "../data/example.ts";
import type { ModelRunner } from "../models/runner.ts";
import { accumulate, addScaled, type Weights } from "../models/weights.ts";
import { fromLogical, type KfacLayer, toLogical } from "./kfac.ts";
import type { LossRunner } from "./losses.ts";
import type { Preconditioner } from "./precondition.ts";
import { measureAt } from "./step_search.ts";

/** Everything one correction needs. */
export interface CorrectionContext {
  layers: KfacLayer[];
  pre: Preconditioner;
  /** KL-loss graphs with gradients for the layers' weights. */
  loss: LossRunner;
  /** Logits of the original weights. */
  plain: ModelRunner;
  origin: Weights;
  /** Rows ∇R is taken on. */
  rows: Example[];
  batchSize: number;
  /** R(θ) measured on the probe rows. */
  retainKl: () => Promise<number>;
  forgetLoss: () => Promise<number>;
}

/** What a correction did. */
export interface Correction {
  /** The correction's η (0: none lowered R). */
  eta: number;
  /** R before and after. */
  klBefore: number;
  klAfter: number;
  /** Δ_c by weight name (storage layout), unscaled. */
  dir: Map<string, Float32Array>;
}

/** ∇R = ∇ mean_{answer tokens} KL(p_θ0 ‖ p_θ) over `rows`, by weight name. */
async function retainKlGradient(c: CorrectionContext, w: Weights): Promise<Map<string, Float32Array>> {
  const batches = batchesOf(c.rows, c.batchSize);
  const total = batches.reduce((s, b) => s + b.targetTokens, 0);
  const acc = new Map<string, Float32Array>();
  for (const b of batches) {
    const ref = (await c.plain.logits(c.origin, b)).data as Float32Array;
    const r = await c.loss.kl(w, b, ref, 1 / Math.max(1, total));
    accumulate(acc, r.grads);
  }
  return acc;
}

/**
 * Correct the step just taken on `w` (in place): `P` and `g` are the step's direction and forget gradient
 * (logical, by module), `lin` = gᵀP, `before` the forget loss before the step.
 *
 * @example
 * ```ts ignore
 * const c = await retainCorrection(ctx, weights, P, g, lin, lossBeforeStep);
 * addScaled(update, c.dir, c.eta);
 * ```
 */
export async function retainCorrection(
  c: CorrectionContext,
  w: Weights,
  P: Map<string, Float32Array>,
  g: Map<string, Float32Array>,
  lin: number,
  before: number,
): Promise<Correction> {
  const klBefore = await c.retainKl(), after = await c.forgetLoss();
  const gR = toLogical(c.layers, await retainKlGradient(c, w));
  const pc = await c.pre.apply(gR);
  let gPc = 0;
  for (const [m, v] of g) {
    const q = pc.P.get(m)!;
    for (let i = 0; i < v.length; i++) gPc += v[i] * q[i];
  }
  const alpha = lin > 0 ? gPc / lin : 0;
  const logical = new Map<string, Float32Array>();
  for (const [m, q] of pc.P) {
    const p = P.get(m)!;
    logical.set(m, Float32Array.from(q, (x, i) => alpha * p[i] - x));
  }
  const dir = fromLogical(c.layers, logical);
  const slope = pc.lin - alpha * gPc; // ∇Rᵀ(Pc − αP) = −∇RᵀΔ_c ≥ 0
  const none = { eta: 0, klBefore, klAfter: klBefore, dir };
  if (!(slope > 0) || !(klBefore > 0)) return none;
  const keep = after - 0.1 * (after - before);
  let best = 0, bestKl = klBefore;
  for (const f of [0.25, 0.5, 1, 2, 4]) {
    const eta = (klBefore / slope) * f;
    const r = await measureAt(w, dir, eta, async () => {
      const kl = await c.retainKl();
      return (await c.forgetLoss()) >= keep ? kl : Infinity;
    });
    if (r < bestKl) best = eta, bestKl = r;
  }
  if (best === 0) return none;
  addScaled(w, dir, best);
  return { eta: best, klBefore, klAfter: bestKl, dir };
}
