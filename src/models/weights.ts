/**
 * @module Weights as every layer above the models passes them: float32 tensors by HF name, the
 * graph side of weights that enter a graph in another form (INT8 codes dequantized inside it), and
 * adding a scaled update to them.
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
