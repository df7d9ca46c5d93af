/**
 * @module Thin QR: plain-TS references of wasm/qr.rs (f64 CGS2) and wasm/qr_block.rs (the f32
 * block variant svdTopR's power iterations run, which in exact arithmetic is the same column-wise
 * CGS2 with a looser rank-deficiency threshold, BLOCK_DEFICIENT).
 *
 * Classical Gram-Schmidt with one re-orthogonalization pass (CGS2, "twice is enough", Giraud et
 * al. 2005) on contiguous rows (row j = column j of the input). A column whose residual falls
 * below `tol` of its original norm (rank deficiency) is replaced by uniform noise from the seeded
 * stream and orthogonalized, so Q always has orthonormal columns; its R diagonal keeps the tiny
 * residual norm.
 */
import { checkDim, checkMatrix, type Qr } from "./types.ts";
import { streamState, XorShift32 } from "./rng.ts";

/** Rank-deficiency threshold of the f64 QR (qr.rs). */
export const DEFICIENT = 1e-10;
/** Rank-deficiency threshold of the f32 block QR (qr_block.rs), just above f32 rounding. */
export const BLOCK_DEFICIENT = 1e-5;

function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[xo + i] * y[yo + i];
  return s;
}

/**
 * Orthonormalize rows start..k (length m) of `w` in place, rows before `start` being orthonormal
 * already; `r` (k×k) receives R if given. Rank-deficient rows (residual < `tol` of their norm) are
 * refilled from stream `stream` of `seed`. Requires k ≤ m.
 *
 * @example
 * ```ts
 * const w = new Float64Array([1, 0, 1, 1, 1, 0]); // 2 rows of length 3
 * orthRows(w, 3, 2, null, 0, 1);
 * ```
 */
export function orthRows(
  w: Float64Array,
  m: number,
  k: number,
  r: Float64Array | null,
  seed: number,
  stream: number,
  tol = DEFICIENT,
  start = 0,
): void {
  r?.fill(0);
  const g = new XorShift32(streamState(seed, stream));
  const c = new Float64Array(k);
  const project = (j: number, rec: boolean) => {
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < j; i++) c[i] = dot(w, i * m, w, j * m, m);
      for (let i = 0; i < j; i++) {
        for (let t = 0; t < m; t++) w[j * m + t] -= c[i] * w[i * m + t];
        if (rec && r) r[i * k + j] += c[i];
      }
    }
  };
  for (let j = start; j < k; j++) {
    const norm0 = Math.sqrt(dot(w, j * m, w, j * m, m));
    project(j, true);
    let nrm = Math.sqrt(dot(w, j * m, w, j * m, m));
    if (r) r[j * k + j] = nrm;
    let deficient = !(nrm > tol * norm0);
    for (let tries = 0; deficient && tries < 4; tries++) {
      for (let t = 0; t < m; t++) w[j * m + t] = g.uniformPm1();
      const fresh = Math.sqrt(dot(w, j * m, w, j * m, m));
      project(j, false);
      nrm = Math.sqrt(dot(w, j * m, w, j * m, m));
      deficient = !(nrm > tol * fresh);
      if (deficient) nrm = 0;
    }
    const inv = nrm > 0 ? 1 / nrm : 0;
    for (let t = 0; t < m; t++) w[j * m + t] *= inv;
  }
}

/**
 * k×m rows ← transpose of a (m×k).
 *
 * @example
 * ```ts
 * toRows([1, 2, 3, 4, 5, 6], 3, 2); // [1, 3, 5, 2, 4, 6]
 * ```
 */
export function toRows(a: ArrayLike<number>, m: number, k: number): Float64Array {
  const w = new Float64Array(m * k);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) w[j * m + i] = a[i * k + j];
  return w;
}

/**
 * m×k ← transpose of rows (k×m).
 *
 * @example
 * ```ts
 * fromRows(Float64Array.of(1, 3, 5, 2, 4, 6), 3, 2); // [1, 2, 3, 4, 5, 6]
 * ```
 */
export function fromRows(w: Float64Array, m: number, k: number): Float64Array {
  const a = new Float64Array(m * k);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) a[i * k + j] = w[j * m + i];
  return a;
}

/**
 * Thin QR of a (m×k, k ≤ m): Q m×k with orthonormal columns and upper-triangular R, A = QR.
 *
 * @example
 * ```ts
 * const { q, r } = qrOrthonormalize(new Float32Array([3, 1, 4, 1, 5, 9]), 3, 2);
 * ```
 */
export function qrOrthonormalize(a: Float32Array, m: number, k: number, opts: { seed?: number } = {}): Qr {
  checkDim("m", m);
  checkDim("k", k);
  checkMatrix("a", a, m, k);
  if (k > m) throw new Error(`k must be ≤ m, got k = ${k} > m = ${m}`);
  const w = toRows(a, m, k), r = new Float64Array(k * k);
  orthRows(w, m, k, r, (opts.seed ?? 0) >>> 0, 1);
  return { q: Float32Array.from(fromRows(w, m, k)), r: Float32Array.from(r) };
}
