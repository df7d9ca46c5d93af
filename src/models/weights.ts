/**
 * @module Weights as every layer above the models passes them: float32 tensors by HF name, the
 * graph side of weights that enter a graph in another form (INT8 codes dequantized inside it), adding a
 * scaled update to them, and summing gradients over batches.
 */
import type { HostTensor } from "../runtime/session.ts";
import type { WeightSource } from "./params.ts";

/** Weights by HF name, float32, in storage layout. */
export type Weights = Map<string, Float32Array>;

/** Weights that enter the graph in another form: which ones, how the graph reads them, how to feed them. */
export interface QuantizedSource {
  names: Set<string>;
  source: WeightSource;
  feeds(name: string, w: Map<string, Float32Array>): Record<string, HostTensor>;
}

/**
 * w[k] += s·d[k] for every tensor of `d` (in place).
 *
 * @example
 * ```ts
 * const w = new Map([["a", Float32Array.of(1, 2)]]);
 * addScaled(w, new Map([["a", Float32Array.of(1, 1)]]), 0.5); // w.get("a") = [1.5, 2.5]
 * ```
 */
export function addScaled(w: Weights, d: Map<string, Float32Array>, s: number): void {
  for (const [k, v] of d) {
    const t = w.get(k)!;
    for (let i = 0; i < t.length; i++) t[i] += s * v[i];
  }
}

/**
 * acc[k] += g[k] for every tensor of `g` (one `acc` lacks is added as a copy): gradients summed over batches.
 *
 * @example
 * ```ts
 * const acc = new Map<string, Float32Array>();
 * accumulate(acc, new Map([["a", Float32Array.of(1, 2)]]));
 * accumulate(acc, new Map([["a", Float32Array.of(1, 1)]])); // acc.get("a") = [2, 3]
 * ```
 */
export function accumulate(acc: Map<string, Float32Array>, g: Map<string, Float32Array>): void {
  for (const [k, v] of g) {
    const a = acc.get(k);
    if (!a) acc.set(k, Float32Array.from(v));
    else for (let i = 0; i < v.length; i++) a[i] += v[i];
  }
}
