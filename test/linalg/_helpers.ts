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

/**
 * Dense reference SVD by one-sided Jacobi (Hestenes) in f64, for small matrices: all k = min(m, n)
 * singular values (descending) with U (m×k) and V (n×k).
 */
export function denseSvd(
  a: ArrayLike<number>,
  m: number,
  n: number,
): { s: number[]; u: Float64Array; v: Float64Array } {
  if (m < n) {
    const t = denseSvd(transpose(a, m, n), n, m);
    return { s: t.s, u: t.v, v: t.u };
  }
  // columns of A as rows of w (n×m), V accumulated as rows of vt (n×n)
  const w = transpose(a, m, n), vt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) vt[i * n + i] = 1;
  const dot = (x: Float64Array, p: number, q: number, len: number) => {
    let s = 0;
    for (let t = 0; t < len; t++) s += x[p * len + t] * x[q * len + t];
    return s;
  };
  const rot = (x: Float64Array, p: number, q: number, len: number, c: number, s: number) => {
    for (let t = 0; t < len; t++) {
      const xp = x[p * len + t], xq = x[q * len + t];
      x[p * len + t] = c * xp - s * xq;
      x[q * len + t] = s * xp + c * xq;
    }
  };
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const al = dot(w, p, p, m), be = dot(w, q, q, m), ga = dot(w, p, q, m);
        if (!(Math.abs(ga) > 1e-15 * Math.sqrt(al * be))) continue;
        rotated = true;
        const zeta = (be - al) / (2 * ga);
        const t = (zeta < 0 ? -1 : 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        rot(w, p, q, m, c, c * t);
        rot(vt, p, q, n, c, c * t);
      }
    }
    if (!rotated) break;
  }
  const norms = Array.from({ length: n }, (_, j) => Math.sqrt(dot(w, j, j, m)));
  const order = norms.map((_, j) => j).sort((x, y) => norms[y] - norms[x]);
  const u = new Float64Array(m * n), v = new Float64Array(n * n);
  order.forEach((o, j) => {
    for (let i = 0; i < m; i++) u[i * n + j] = norms[o] > 0 ? w[o * m + i] / norms[o] : 0;
    for (let i = 0; i < n; i++) v[i * n + j] = vt[o * n + i];
  });
  return { s: order.map((o) => norms[o]), u, v };
}

/**
 * ‖sin Θ‖_F, Θ the principal angles between the spans of the first r columns of X and of Y (m×·,
 * row strides ldx and ldy; Y orthonormal), as ‖X − Y(YᵀX)‖_F (no cancellation, unlike
 * sqrt(r − ‖YᵀX‖²_F)).
 */
export function subspaceGap(
  x: ArrayLike<number>,
  ldx: number,
  y: ArrayLike<number>,
  ldy: number,
  m: number,
  r: number,
): number {
  const c = new Float64Array(r * r); // c[j][i] = y_jᵀ x_i
  for (let t = 0; t < m; t++) {
    for (let j = 0; j < r; j++) for (let i = 0; i < r; i++) c[j * r + i] += y[t * ldy + j] * x[t * ldx + i];
  }
  let s = 0;
  for (let t = 0; t < m; t++) {
    for (let i = 0; i < r; i++) {
      let d = x[t * ldx + i];
      for (let j = 0; j < r; j++) d -= y[t * ldy + j] * c[j * r + i];
      s += d * d;
    }
  }
  return Math.sqrt(s);
}
