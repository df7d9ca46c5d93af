/**
 * @module Weights as every layer above the models passes them: float32 tensors by HF name, and
 * the graph side of weights that enter a graph in another form (INT8 codes dequantized inside it).
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
