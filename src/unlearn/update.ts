/**
 * @module Stored unlearning updates, re-applied after further training (K-FADE, McKinney et al. 2026:
 * updates "transfer to fine-tuned models"; algorithms.md §6.3 names both readings, both are here):
 * - delta: U = θ_unlearned − θ_original per changed tensor (safetensors, HF weight names);
 *   `applyDelta` gives θ' + s·U.
 * - recompute (K-FADE only): the retain-curvature eigenfactors (Q_S, Q_A, Λ per layer) plus each step's
 *   forget-NLL gain; `reapplyKfade` recomputes P(∇L_f(θ')) at the new weights with the stored factors and
 *   takes the same number of steps, each line-searched to the same forget gain (one forget gradient and a few
 *   forget evaluations a step; files without gains: each step sized to its predicted retain KL).
 * Metadata (`__metadata__`) records the format, method and layers.
 */
import { readSafetensors, toFloat32, writeSafetensors } from "../io/safetensors.ts";
import type { Example } from "../data/example.ts";
import type { DecoderConfig } from "../models/config.ts";
import { ModelRunner } from "../models/runner.ts";
import { addScaled, type Weights } from "../models/weights.ts";
import { type Backend, DEFAULT_BACKEND } from "../runtime/backend.ts";
import { fromLogical, type KfacEigen, type KfacLayer, toLogical } from "./kfac.ts";
import { forgetGradient, type KfadeResult, type KfadeStep } from "./kfade.ts";
import { Preconditioner } from "./precondition.ts";
import { searchStep } from "./step_search.ts";
import { evaluateLoss } from "../eval/loss.ts";

const FORMAT = "posttrain-unlearn-update";
const FACTORS = "posttrain-kfade-factors";

/**
 * Write the delta of changed tensors (`after − before`, or a given update map) with metadata.
 *
 * @example
 * ```ts ignore
 * await saveUpdate("u.safetensors", update, shapes, { method: "kfade" });
 * ```
 */
export async function saveUpdate(
  path: string,
  update: Map<string, Float32Array>,
  shapes: Map<string, number[]>,
  meta: Record<string, string> = {},
): Promise<number> {
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of update) {
    if (!v.some((x) => x !== 0)) continue;
    tensors[k] = { dtype: "F32", shape: shapes.get(k)!, data: v };
  }
  await writeSafetensors(path, tensors, { ...meta, format: FORMAT });
  return Object.keys(tensors).length;
}

/** θ_after − θ_before for every tensor. */
export function weightDelta(before: Weights, after: Weights): Map<string, Float32Array> {
  return new Map([...after].map(([k, v]) => [k, Float32Array.from(v, (x, i) => x - before.get(k)![i])]));
}

/** Read an update file written by {@link saveUpdate}. */
export async function loadUpdate(
  path: string,
): Promise<{ delta: Map<string, Float32Array>; meta: Record<string, string> }> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata?.format !== FORMAT) {
    throw new Error(`${path}: not an unlearning update (format ${metadata?.format})`);
  }
  return { delta: new Map([...tensors].map(([k, t]) => [k, toFloat32(t)])), meta: metadata };
}

/**
 * θ ← θ + scale·U; throws naming the tensor when a name or size does not match the model.
 *
 * @example
 * ```ts
 * const w = new Map([["a", Float32Array.of(1, 2)]]);
 * applyDelta(w, new Map([["a", Float32Array.of(0.5, 0.5)]])); // w.get("a") = [1.5, 2.5]
 * ```
 */
export function applyDelta(weights: Weights, delta: Map<string, Float32Array>, scale = 1): void {
  for (const [k, d] of delta) {
    const w = weights.get(k);
    if (!w) throw new Error(`update tensor ${k}: the model has no such weight`);
    if (w.length !== d.length) {
      throw new Error(`update tensor ${k}: ${d.length} values, the weight has ${w.length}`);
    }
  }
  addScaled(weights, delta, scale);
}

/**
 * Write K-FADE's eigenfactors, damping and step budgets (for {@link reapplyKfade}).
 *
 * @example
 * ```ts ignore
 * await saveKfadeFactors("factors.safetensors", result);
 * ```
 */
export async function saveKfadeFactors(path: string, r: KfadeResult): Promise<void> {
  const t: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const l of r.eig.layers) {
    t[`QS:${l.module}`] = { dtype: "F32", shape: [l.dOut, l.dOut], data: r.eig.QS.get(l.module)! };
    t[`QA:${l.module}`] = { dtype: "F32", shape: [l.dIn, l.dIn], data: r.eig.QA.get(l.module)! };
    t[`LAM:${l.module}`] = { dtype: "F32", shape: [l.dOut, l.dIn], data: r.eig.lambda.get(l.module)! };
  }
  await writeSafetensors(path, t, {
    format: FACTORS,
    layers: JSON.stringify(r.eig.layers),
    damping: JSON.stringify(Object.fromEntries(r.damping)),
    steps: JSON.stringify(r.steps.map((s) => s.predictedKl)),
    gains: JSON.stringify(r.steps.map((s) => s.gain ?? NaN)),
  });
}

/** Stored K-FADE factors: eigenbasis, damping and each step's predicted retain KL and forget gain. */
export interface KfadeFactors {
  eig: KfacEigen;
  damping: Map<string, number>;
  stepKl: number[];
  stepGain?: number[];
}

/** Read K-FADE factors written by {@link saveKfadeFactors}. */
export async function loadKfadeFactors(
  path: string,
): Promise<KfadeFactors> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata?.format !== FACTORS) {
    throw new Error(`${path}: not a K-FADE factor file (format ${metadata?.format})`);
  }
  const layers = JSON.parse(metadata.layers) as KfacLayer[];
  const get = (k: string) => {
    const t = tensors.get(k);
    if (!t) throw new Error(`${path}: tensor ${k} is missing`);
    return toFloat32(t);
  };
  return {
    eig: {
      layers,
      QS: new Map(layers.map((l) => [l.module, get(`QS:${l.module}`)])),
      QA: new Map(layers.map((l) => [l.module, get(`QA:${l.module}`)])),
      lambda: new Map(layers.map((l) => [l.module, get(`LAM:${l.module}`)])),
    },
    damping: new Map(Object.entries(JSON.parse(metadata.damping) as Record<string, number>)),
    stepKl: JSON.parse(metadata.steps) as number[],
    stepGain: metadata.gains
      ? (JSON.parse(metadata.gains) as (number | null)[]).map((g) => g ?? NaN)
      : undefined,
  };
}

/**
 * Re-apply K-FADE to (further-trained) `weights` in place with stored factors: for each stored step,
 * Δ = (F + λI)⁻¹∇L_f(θ') line-searched to the step's forget gain (or, without stored gains, scaled to its
 * predicted retain KL). Returns the steps.
 *
 * @example
 * ```ts ignore
 * const f = await loadKfadeFactors("factors.safetensors");
 * await reapplyKfade(config, tunedWeights, forgetRows, f, { backend: "node" });
 * ```
 */
export async function reapplyKfade(
  config: DecoderConfig,
  weights: Weights,
  forget: Example[],
  f: KfadeFactors,
  o: { backend?: Backend; batchSize?: number; log?: (s: string) => void } = {},
): Promise<KfadeStep[]> {
  const layers = f.eig.layers, backend = o.backend ?? DEFAULT_BACKEND;
  for (const l of layers) {
    const w = weights.get(l.weight);
    if (!w || w.length !== l.dOut * (l.dIn - (l.bias ? 1 : 0))) {
      throw new Error(`factors: layer ${l.module} does not fit the model`);
    }
  }
  const names = new Set(layers.flatMap((l) => (l.bias ? [l.weight, l.bias] : [l.weight])));
  const runner = new ModelRunner(config, backend, (n) => names.has(n));
  const pre = new Preconditioner(f.eig, { perLayer: f.damping }, backend);
  const steps: KfadeStep[] = [];
  const plain = new ModelRunner(config, backend), bs = o.batchSize ?? 16;
  const forgetLoss = async () => (await evaluateLoss(plain, weights, forget, bs)).loss;
  for (const [k, kl] of f.stepKl.entries()) {
    const { loss, grads } = await forgetGradient(runner, weights, forget, bs);
    const { P, quad, lin } = await pre.apply(toLogical(layers, grads));
    const dir = fromLogical(layers, P), gain = f.stepGain?.[k];
    const eta = gain !== undefined && Number.isFinite(gain) && gain > 0
      ? await searchStep(weights, dir, gain / lin, loss + gain, forgetLoss, "reach")
      : Math.sqrt((2 * kl) / Math.max(quad, 1e-30));
    addScaled(weights, dir, eta);
    const after = await forgetLoss();
    steps.push({
      eta,
      predictedKl: 0.5 * eta * eta * quad,
      retainKl: NaN,
      forgetLoss: after,
      gain: after - loss,
    });
    o.log?.(
      `reapply step ${k + 1}: forget NLL ${loss.toFixed(4)} → ${after.toFixed(4)}, η ${eta.toExponential(3)}`,
    );
  }
  await plain.release();
  await pre.release();
  await runner.release();
  return steps;
}
