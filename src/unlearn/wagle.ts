/**
 * @module WAGLE weight attribution and masks (Jia et al., "WAGLE: Strategic Weight Attribution for Effective
 * and Modular Unlearning in LLMs", NeurIPS 2024; OPTML-Group/WAGLE `generate_mask.py` `snip_advanced`,
 * algorithms.md §7.1–7.2):
 *   g_f = Σ_batches ∇ NLL(forget batch),  g_r = Σ_batches ∇ NLL(retain batch)
 *   score_i = |(θ_i − g_r,i / γ) · g_f,i|     (the code ranks −score ascending; γ = "mu")
 * γ = 1e-6 (every published config; the code default is 1e-3). One global ranking over all parameters
 * (embeddings, norms and head included); the top `ratio` share gets mask 1 and is the only part unlearning
 * may change (the code README: "tofu_0.8.pt … 80% weights are selected"; default ratio 0.8 here).
 */
import { z } from "npm:zod@4.6.7";
import type { Example } from "../data/example.ts";
import type { DecoderConfig } from "../models/config.ts";
import { ModelRunner } from "../models/runner.ts";
import { accumulate, type Weights } from "../models/weights.ts";
import { type Backend, DEFAULT_BACKEND } from "../runtime/backend.ts";
import { batchesOf } from "../data/batch.ts";

/** WAGLE options. */
export const WagleOptionsSchema = z.object({
  maskRatio: z.number().gt(0).max(1).default(0.8).describe(
    "share of weights unlearning may change (WAGLE README 0.8)",
  ),
  wagleGamma: z.number().positive().default(1e-6).describe(
    'γ ("mu") of the attribution score (WAGLE configs 1e-6)',
  ),
});
/** Parsed WAGLE options. */
export type WagleOptions = z.infer<typeof WagleOptionsSchema>;

/** Σ over batches of the batch-mean NLL gradient of every parameter. */
async function summedGradient(runner: ModelRunner, w: Weights, rows: Example[], batchSize: number) {
  const acc = new Map<string, Float32Array>();
  for (const b of batchesOf(rows, batchSize)) {
    if (b.targetTokens === 0) continue;
    const { grads } = await runner.lossAndGrad(w, b, 1 / b.targetTokens);
    accumulate(acc, grads);
  }
  return acc;
}

/**
 * WAGLE attribution |(θ − g_r/γ)·g_f| of every parameter entry.
 *
 * @example
 * ```ts ignore
 * const scores = await wagleScores(config, weights, forget, retain, { wagleGamma: 1e-6 }, "node");
 * ```
 */
export async function wagleScores(
  config: DecoderConfig,
  weights: Weights,
  forget: Example[],
  retain: Example[],
  o: { wagleGamma?: number; batchSize?: number },
  backend: Backend = DEFAULT_BACKEND,
): Promise<Map<string, Float32Array>> {
  const runner = new ModelRunner(config, backend);
  const bs = o.batchSize ?? 8, gamma = o.wagleGamma ?? 1e-6;
  const gf = await summedGradient(runner, weights, forget, bs);
  const gr = await summedGradient(runner, weights, retain, bs);
  await runner.release();
  const out = new Map<string, Float32Array>();
  for (const [k, f] of gf) {
    const th = weights.get(k)!, r = gr.get(k);
    out.set(k, Float32Array.from(f, (x, i) => Math.abs((th[i] - (r ? r[i] / gamma : 0)) * x)));
  }
  return out;
}

/**
 * Global mask: 1 for the `ratio` share of entries with the largest score (ties broken by order), else 0.
 *
 * @example
 * ```ts
 * const m = globalMask(new Map([["w", Float32Array.of(3, 1, 2, 0)]]), 0.5);
 * m.get("w"); // Uint8Array [1, 0, 1, 0]
 * ```
 */
export function globalMask(scores: Map<string, Float32Array>, ratio: number): Map<string, Uint8Array> {
  if (!(ratio > 0 && ratio <= 1)) throw new Error(`mask ratio must be in (0, 1], got ${ratio}`);
  let total = 0;
  for (const s of scores.values()) total += s.length;
  const keep = Math.floor(ratio * total);
  const all = new Float32Array(total);
  let o = 0;
  for (const s of scores.values()) all.set(s, o), o += s.length;
  all.sort();
  const threshold = keep > 0 ? all[total - keep] : Infinity;
  let above = 0; // entries strictly above the threshold all get in; ties fill the rest in order
  for (const s of scores.values()) for (const x of s) if (x > threshold) above++;
  let ties = keep - above;
  const out = new Map<string, Uint8Array>();
  for (const [k, s] of scores) {
    const m = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      if (s[i] > threshold) m[i] = 1;
      else if (s[i] === threshold && ties > 0) m[i] = 1, ties--;
    }
    out.set(k, m);
  }
  return out;
}

/** Share of entries with mask 1. */
export function maskDensity(mask: Map<string, Uint8Array>): number {
  let on = 0, n = 0;
  for (const m of mask.values()) {
    n += m.length;
    for (const x of m) on += x;
  }
  return n ? on / n : 0;
}
