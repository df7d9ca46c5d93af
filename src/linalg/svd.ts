/**
 * @module Randomized top-r SVD and thin QR, plain-TS references of wasm/svd.rs and wasm/qr.rs
 * (same algorithm and random streams, f64 throughout).
 *
 * svdTopR: Halko, Martinsson & Tropp 2011, Alg. 4.4 (randomized subspace iteration): Y = AΩ,
 * Q₁ = orth(Y), then q times Q₂ = orth(AᵀQ₁), Q₁ = orth(AQ₂); the small factor Bᵀ = AᵀQ₁ is
 * QR-factored (Q₂R) and R gets an exact one-sided Jacobi SVD (Hestenes), so
 * A ≈ (Q₁V_R) Σ (Q₂U_R)ᵀ. Defaults p = 8, q = 2 (paper §4.5 recommends p ≈ 5–10, q = 1–2).
 * Ω is uniform [-1, 1) (stream 0 of the seed) instead of Gaussian: any sub-Gaussian sketch works.
 * Sign convention: each left singular vector's largest-magnitude entry is positive.
 * qrOrthonormalize: classical Gram-Schmidt with one re-orthogonalization pass (CGS2, "twice is
 * enough", Giraud et al. 2005);
 * a column that vanishes (< 1e-10 of its norm) is replaced by seeded noise, so Q stays orthonormal.
 */
import { type Qr, type Svd, svdArgs, type SvdOptions } from "./types.ts";
import { checkDim, checkMatrix } from "./types.ts";
import { streamState, XorShift32 } from "./rng.ts";

const DEFICIENT = 1e-10;

function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[xo + i] * y[yo + i];
  return s;
}

/**
 * Orthonormalize the k rows (length m) of `w` in place; `r` (k×k) receives R if given.
 * Rank-deficient rows are refilled from stream `stream` of `seed`. Requires k ≤ m.
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
  for (let j = 0; j < k; j++) {
    const norm0 = Math.sqrt(dot(w, j * m, w, j * m, m));
    project(j, true);
    let nrm = Math.sqrt(dot(w, j * m, w, j * m, m));
    if (r) r[j * k + j] = nrm;
    let deficient = !(nrm > DEFICIENT * norm0);
    for (let tries = 0; deficient && tries < 4; tries++) {
      for (let t = 0; t < m; t++) w[j * m + t] = g.uniformPm1();
      const fresh = Math.sqrt(dot(w, j * m, w, j * m, m));
      project(j, false);
      nrm = Math.sqrt(dot(w, j * m, w, j * m, m));
      deficient = !(nrm > DEFICIENT * fresh);
      if (deficient) nrm = 0;
    }
    const inv = nrm > 0 ? 1 / nrm : 0;
    for (let t = 0; t < m; t++) w[j * m + t] *= inv;
  }
}

/** k×m rows ← transpose of a (m×k). */
function toRows(a: ArrayLike<number>, m: number, k: number): Float64Array {
  const w = new Float64Array(m * k);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) w[j * m + i] = a[i * k + j];
  return w;
}

/** m×k ← transpose of rows (k×m). */
function fromRows(w: Float64Array, m: number, k: number): Float64Array {
  const a = new Float64Array(m * k);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) a[i * k + j] = w[j * m + i];
  return a;
}

/**
 * C (m×n) = op(A)·B with op(A)(i, p) = a[i·ars + p·acs], B row-major k×n; f64.
 *
 * @example
 * ```ts
 * gemm64(2, 2, 2, a, 2, 1, b); // A·B;  gemm64(2, 2, 2, a, 1, 2, b) is Aᵀ·B
 * ```
 */
export function gemm64(
  m: number,
  n: number,
  k: number,
  a: ArrayLike<number>,
  ars: number,
  acs: number,
  b: ArrayLike<number>,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const co = i * n;
    for (let p = 0; p < k; p++) {
      const x = a[i * ars + p * acs];
      if (x === 0) continue;
      const bo = p * n;
      for (let j = 0; j < n; j++) c[co + j] += x * b[bo + j];
    }
  }
  return c;
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

/**
 * One-sided Jacobi (Hestenes): rotate row pairs of w (k×k) until orthogonal (|cos| ≤ 1e-15),
 * applying the same rotations to v's rows.
 *
 * @example
 * ```ts
 * const v = new Float64Array([1, 0, 0, 1]);
 * jacobiRows(new Float64Array([3, 1, 1, 2]), v, 2); // v: right singular vectors as rows
 * ```
 */
export function jacobiRows(w: Float64Array, v: Float64Array, k: number): void {
  const rot = (x: Float64Array, p: number, q: number, c: number, s: number) => {
    for (let t = 0; t < k; t++) {
      const xp = x[p * k + t], xq = x[q * k + t];
      x[p * k + t] = c * xp - s * xq;
      x[q * k + t] = s * xp + c * xq;
    }
  };
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < k; p++) {
      for (let q = p + 1; q < k; q++) {
        const alpha = dot(w, p * k, w, p * k, k), beta = dot(w, q * k, w, q * k, k);
        const gamma = dot(w, p * k, w, q * k, k);
        if (!(Math.abs(gamma) > 1e-15 * Math.sqrt(alpha) * Math.sqrt(beta))) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta < 0 ? -1 : 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        rot(w, p, q, c, c * t);
        rot(v, p, q, c, c * t);
      }
    }
    if (!rotated) break;
  }
}

/**
 * Randomized top-r SVD of a (m×n): U m×r, S (descending), Vt r×n.
 *
 * @example
 * ```ts
 * const { u, s, vt } = svdTopR(grad, 768, 3072, 128, { seed: 1 }); // GaLore projector: u or vt
 * ```
 */
export function svdTopR(a: Float32Array, m: number, n: number, r: number, opts: SvdOptions = {}): Svd {
  const { powerIters, seed, kk } = svdArgs(a, m, n, r, opts);
  const g = new XorShift32(streamState(seed, 0));
  const omega = new Float64Array(n * kk);
  for (let i = 0; i < omega.length; i++) omega[i] = g.uniformPm1();
  const orth = (y: Float64Array, rows: number, stream: number) => {
    const w = toRows(y, rows, kk);
    orthRows(w, rows, kk, null, seed, stream);
    return fromRows(w, rows, kk);
  };
  let q1 = orth(gemm64(m, kk, n, a, n, 1, omega), m, 1);
  let stream = 2;
  for (let it = 0; it < powerIters; it++) {
    const q2 = orth(gemm64(n, kk, m, a, 1, n, q1), n, stream);
    q1 = orth(gemm64(m, kk, n, a, n, 1, q2), m, stream + 1);
    stream += 2;
  }
  const w = toRows(gemm64(n, kk, m, a, 1, n, q1), n, kk); // rows → Q₂ᵀ (kk×n)
  const rr = new Float64Array(kk * kk);
  orthRows(w, n, kk, rr, seed, stream);
  const rt = new Float64Array(kk * kk), vrt = new Float64Array(kk * kk);
  for (let i = 0; i < kk; i++) {
    vrt[i * kk + i] = 1;
    for (let j = 0; j < kk; j++) rt[j * kk + i] = rr[i * kk + j];
  }
  jacobiRows(rt, vrt, kk);
  const sigma = Array.from({ length: kk }, (_, j) => Math.sqrt(dot(rt, j * kk, rt, j * kk, kk)));
  const ord = Array.from({ length: kk }, (_, j) => j).sort((x, y) => sigma[y] - sigma[x] || x - y);
  const usel = new Float64Array(r * kk), s = new Float32Array(r), vsel = new Float64Array(kk * r);
  for (let j = 0; j < r; j++) {
    const o = ord[j], inv = sigma[o] > 0 ? 1 / sigma[o] : 0;
    for (let p = 0; p < kk; p++) {
      usel[j * kk + p] = rt[o * kk + p] * inv;
      vsel[p * r + j] = vrt[o * kk + p];
    }
    s[j] = sigma[o];
  }
  orthRows(usel, kk, r, null, seed, stream + 1);
  const u = gemm64(m, r, kk, q1, kk, 1, vsel), vt = gemm64(r, n, kk, usel, kk, 1, w);
  for (let j = 0; j < r; j++) {
    let at = 0;
    for (let i = 1; i < m; i++) if (Math.abs(u[i * r + j]) > Math.abs(u[at * r + j])) at = i;
    if (u[at * r + j] < 0) {
      for (let i = 0; i < m; i++) u[i * r + j] = -u[i * r + j];
      for (let i = 0; i < n; i++) vt[j * n + i] = -vt[j * n + i];
    }
  }
  return { u: Float32Array.from(u), s, vt: Float32Array.from(vt) };
}
