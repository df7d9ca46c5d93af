/** Helpers for the linear-algebra kernel tests: both kernel sets, f64 products, orthonormality. */
import { loadKernels } from "../../wasm/mod.ts";
import { type LinalgKernels, referenceKernels } from "../../src/linalg/mod.ts";
import { randn, rng } from "../_util.ts";

/** The WASM kernels (committed wasm/kernels.wasm). */
export const wasm: LinalgKernels = await loadKernels();
/** Both implementations, for tests that must hold for each. */
export const both: [string, LinalgKernels][] = [["ts", referenceKernels], ["wasm", wasm]];

/** Uniform [-1, 1) matrix from a seeded generator. */
export function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  return randn(rows * cols, rng(seed));
}

/** C = A (m×k) · B (k×n), f64. */
export function matmul(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  k: number,
  n: number,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p];
      for (let j = 0; j < n; j++) c[i * n + j] += x * b[p * n + j];
    }
  }
  return c;
}

/** Transpose of a (m×n). */
export function transpose(a: ArrayLike<number>, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
  return t;
}

/** max |XᵀX − I| for X m×k (orthonormal columns ⇒ 0). */
export function orthError(x: ArrayLike<number>, m: number, k: number): number {
  const g = matmul(transpose(x, m, k), x, k, m, k);
  let e = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) e = Math.max(e, Math.abs(g[i * k + j] - (i === j ? 1 : 0)));
  }
  return e;
}

/** max |a − b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Frobenius norm. */
export function frob(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** True iff the typed arrays hold identical bytes. */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
    y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Matrix with orthonormal columns (m×k) from QR of a random matrix. */
export function randomOrthonormal(m: number, k: number, seed: number): Float32Array {
  return referenceKernels.qrOrthonormalize(randomMatrix(m, k, seed), m, k).q;
}

/** A = U diag(σ) Vᵀ with random orthonormal U (m×k), V (n×k); returns A and the factors. */
export function withSpectrum(m: number, n: number, sigma: number[], seed: number) {
  const k = sigma.length, u = randomOrthonormal(m, k, seed), v = randomOrthonormal(n, k, seed + 1);
  const us = Float64Array.from(u, (x, i) => x * sigma[i % k]);
  return { a: Float32Array.from(matmul(us, transpose(v, n, k), m, k, n)), u, v };
}
