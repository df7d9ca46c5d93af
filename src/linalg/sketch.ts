/**
 * @module Sparse sign sketch Y = AΩ: the plain-TS reference of wasm/sketch.rs (same random
 * stream, f64 sums).
 *
 * Ω (n×k) holds ζ = min(8, k) entries ±1 per row, in distinct columns: the sparse sign embedding
 * of Martinsson & Tropp, "Randomized numerical linear algebra" (Acta Numerica 2020, §9.2; ζ = 8
 * is their recommended sparsity). As svdTopR's test matrix it costs m·n·ζ multiply-adds instead
 * of a dense sketch's m·n·k, and the power iterations that follow wash out any difference in
 * sketch quality. Columns and signs come from stream 0 of the seed: column = ⌊(x ≫ 8)·k / 2²⁴⌋,
 * redrawn until distinct within the row, then sign = top bit of the next draw.
 */
import { streamState, XorShift32 } from "./rng.ts";

/** Nonzeros per row of Ω. */
export const ZETA = 8;

/**
 * Y (m×k, f64) = A (m×n) · Ω for the sparse sign Ω of `seed`.
 *
 * @example
 * ```ts
 * const y = sparseSignSketch(grad, 768, 3072, 136, 0); // 768×136
 * ```
 */
export function sparseSignSketch(
  a: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
  seed: number,
): Float64Array {
  const z = Math.min(k, ZETA), g = new XorShift32(streamState(seed, 0));
  const cols = new Int32Array(n * z), signs = new Float64Array(n * z);
  for (let p = 0; p < n; p++) {
    for (let t = 0; t < z; t++) {
      let c: number;
      do c = Math.floor((g.next() >>> 8) * k / 2 ** 24); while (cols.subarray(p * z, p * z + t).includes(c));
      cols[p * z + t] = c;
      signs[p * z + t] = g.next() >>> 31 ? -1 : 1;
    }
  }
  const y = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < n; p++) {
      const x = a[i * n + p];
      for (let t = 0; t < z; t++) y[i * k + cols[p * z + t]] += signs[p * z + t] * x;
    }
  }
  return y;
}
