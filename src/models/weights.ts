/** @module The weights map every operation passes around. */

/** Weights by HF name, float32, in storage layout. */
export type Weights = Map<string, Float32Array>;
