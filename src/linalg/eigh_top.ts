/**
 * @module Top-r eigenpairs of a symmetric matrix: the plain-TS reference of wasm/eigh_top.rs (f64
 * throughout, same steps and random streams).
 *
 * LAPACK's dsytrd → dsterf → dstein → dormtr route (Golub & Van Loan, Matrix Computations, §8.3):
 * Householder tridiagonalization A = Q T Qᵀ on the lower triangle (symmetric rank-2 updates, ⅔n³
 * multiply-adds; reflector k is stored in row k's upper part), every eigenvalue of T by implicit
 * QL without vectors (EISPACK tql1 on T/‖T‖₁, O(n²)), eigenvectors of T for the r largest by
 * inverse iteration (inverse_iteration.ts), then x = Q z by the reflectors (n²r multiply-adds;
 * the WASM kernel applies them 16 at a time in compact WY form, the same product).
 * Against eighSym's full tred2 + tql2 (≈ 9n³ flops) this is ≈ 4/3 n³ + 2n²r: the small SVDs of
 * svdTopR (src/linalg/svd.ts, svd_gram.ts) need most but not all eigenvectors.
 */
import { type EighTop, eighTopArgs } from "./types.ts";
import { tridiagInverseIteration } from "./inverse_iteration.ts";

const EPS = Number.EPSILON;

function hypot(a: number, b: number): number {
  a = Math.abs(a), b = Math.abs(b);
  const big = Math.max(a, b), small = Math.min(a, b);
  if (big === 0) return 0;
  const t = small / big;
  return big * Math.sqrt(1 + t * t);
}

/**
 * Householder tridiagonalization of the symmetric `a` (n×n; lower triangle read, `a` overwritten):
 * diagonal d, subdiagonal e (e[n−1] = 0), τ per reflector; v_k = [1, a[k, k+2..n]] acts on k+1..n.
 *
 * @example
 * ```ts
 * const { d, e } = tridiagonalize(Float64Array.of(2, 1, 0, 1, 2, 1, 0, 1, 2), 3);
 * ```
 */
export function tridiagonalize(
  a: Float64Array,
  n: number,
): { d: Float64Array; e: Float64Array; tau: Float64Array } {
  const d = new Float64Array(n), e = new Float64Array(n), tau = new Float64Array(n);
  const p = new Float64Array(n), v = new Float64Array(n);
  for (let k = 0; k + 2 < n; k++) {
    const o = k + 1, l = n - o;
    d[k] = a[k * n + k];
    const alpha = a[o * n + k];
    let xn = 0;
    for (let i = 1; i < l; i++) xn += a[(o + i) * n + k] ** 2;
    xn = Math.sqrt(xn);
    if (xn === 0) {
      e[k] = alpha; // H_k = I: τ = 0, v = e₁
      a.fill(0, k * n + o + 1, k * n + n);
      continue;
    }
    const beta = alpha >= 0 ? -hypot(alpha, xn) : hypot(alpha, xn);
    const t = (beta - alpha) / beta, scale = 1 / (alpha - beta);
    e[k] = beta;
    tau[k] = t;
    v[0] = 1;
    for (let i = 1; i < l; i++) a[k * n + o + i] = v[i] = a[(o + i) * n + k] * scale;
    // p = τ A₂₂ v from the lower triangle (row i: its dot with v, and its transpose's axpy)
    p.fill(0, 0, l);
    for (let i = 0; i < l; i++) {
      const row = (o + i) * n + o;
      let s = 0;
      for (let j = 0; j <= i; j++) s += a[row + j] * v[j];
      p[i] += s;
      for (let j = 0; j < i; j++) p[j] += a[row + j] * v[i];
    }
    let pv = 0;
    for (let i = 0; i < l; i++) pv += (p[i] *= t) * v[i];
    const kk = 0.5 * t * pv;
    for (let i = 0; i < l; i++) p[i] -= kk * v[i]; // p is now w
    for (let i = 0; i < l; i++) {
      const row = (o + i) * n + o, vi = v[i], wi = p[i];
      for (let j = 0; j <= i; j++) a[row + j] -= vi * p[j] + wi * v[j];
    }
  }
  if (n >= 2) {
    d[n - 2] = a[(n - 2) * n + n - 2];
    e[n - 2] = a[(n - 1) * n + n - 2];
  }
  d[n - 1] = a[(n - 1) * n + n - 1];
  return { d, e, tau };
}

/**
 * Eigenvalues (unsorted, in place in d) of the tridiagonal (d, e), scaled to ‖T‖₁ ≤ 1 so that a
 * plain sqrt(p² + e²) cannot overflow, by implicit QL (EISPACK tql1; e[i] = T[i+1, i], destroyed).
 * Returns false if an eigenvalue needed over 64 iterations.
 *
 * @example
 * ```ts
 * const d = Float64Array.of(2, 2), e = Float64Array.of(1, 0);
 * tql1(d, e, 2); // d holds 1 and 3
 * ```
 */
export function tql1(d: Float64Array, e: Float64Array, n: number): boolean {
  let f = 0, tst1 = 0, ok = true;
  e[n - 1] = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && !(Math.abs(e[m]) <= EPS * tst1)) m++;
    if (m > l) {
      for (let iter = 1;; iter++) {
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.sqrt(p * p + 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
        const el1 = e[l + 1];
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.sqrt(p * p + e[i] * e[i]);
          e[i + 1] = s * r;
          const inv = 1 / r;
          s = e[i] * inv;
          c = p * inv;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
        }
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
        if (!(Math.abs(e[l]) > EPS * tst1)) break;
        if (iter >= 64) {
          ok = false;
          break;
        }
      }
    }
    d[l] += f;
    e[l] = 0;
  }
  return ok;
}

/** ‖T‖₁ of the symmetric tridiagonal (d, e). */
function norm1(d: Float64Array, e: Float64Array, n: number): number {
  let norm = 0;
  for (let i = 0; i < n; i++) {
    norm = Math.max(norm, Math.abs(d[i]) + Math.abs(e[i]) + (i > 0 ? Math.abs(e[i - 1]) : 0));
  }
  return norm;
}

/**
 * z (n×r) ← Q z with Q = H₀H₁⋯ from {@link tridiagonalize} (reflectors in `a`, factors τ).
 *
 * @example
 * ```ts
 * backTransform(a, tau, n, z, r); // eigenvectors of T → eigenvectors of A
 * ```
 */
export function backTransform(
  a: Float64Array,
  tau: Float64Array,
  n: number,
  z: Float64Array,
  r: number,
): void {
  const w = new Float64Array(r);
  for (let k = n - 3; k >= 0; k--) {
    const t = tau[k], o = k + 1;
    if (t === 0) continue;
    w.set(z.subarray(o * r, o * r + r));
    for (let i = o + 1; i < n; i++) {
      const vi = a[k * n + i];
      for (let j = 0; j < r; j++) w[j] += vi * z[i * r + j];
    }
    for (let j = 0; j < r; j++) w[j] *= t;
    for (let j = 0; j < r; j++) z[o * r + j] -= w[j];
    for (let i = o + 1; i < n; i++) {
      const vi = a[k * n + i];
      for (let j = 0; j < r; j++) z[i * r + j] -= vi * w[j];
    }
  }
}

/**
 * The r largest eigenvalues (descending) of the symmetric `a` (n×n, lower triangle read, `a`
 * overwritten) and their eigenvectors (n×r, column j); f64. Used by the SVD paths.
 *
 * @example
 * ```ts
 * const { values, vectors } = eighTop64(Float64Array.of(2, 1, 1, 2), 2, 1, 0, 0); // [3], [√½, √½]
 * ```
 */
export function eighTop64(
  a: Float64Array,
  n: number,
  r: number,
  seed: number,
  stream: number,
): { values: Float64Array; vectors: Float64Array; ok: boolean } {
  const { d, e, tau } = tridiagonalize(a, n);
  const norm = norm1(d, e, n), scale = norm > 0 ? 1 / norm : 0;
  const w = d.map((x) => x * scale), ew = e.map((x) => x * scale);
  const ok = tql1(w, ew, n);
  const values = w.sort().reverse().subarray(0, r).map((x) => x * norm);
  const vectors = tridiagInverseIteration(d, e, n, norm, values, seed, stream);
  backTransform(a, tau, n, vectors, r);
  return { values, vectors, ok };
}

/**
 * The r largest eigenvalues (descending) and eigenvectors (n×r, column j, largest-magnitude entry
 * positive) of sym(a) = (a + aᵀ)/2. Inverse-iteration starts use stream 1 of `seed`.
 *
 * @example
 * ```ts
 * const { values, vectors } = eighTopR(new Float32Array([2, 1, 1, 2]), 2, 1); // [3]
 * ```
 */
export function eighTopR(a: Float32Array, n: number, r: number, opts: { seed?: number } = {}): EighTop {
  eighTopArgs(a, n, r);
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) w[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
  const { values, vectors, ok } = eighTop64(w, n, r, (opts.seed ?? 0) >>> 0, 1);
  if (!ok) throw new Error("eighTopR: QL iteration did not converge (non-finite input?)");
  for (let j = 0; j < r; j++) {
    let at = 0;
    for (let i = 1; i < n; i++) if (Math.abs(vectors[i * r + j]) > Math.abs(vectors[at * r + j])) at = i;
    if (vectors[at * r + j] < 0) { for (let i = 0; i < n; i++) vectors[i * r + j] = -vectors[i * r + j]; }
  }
  return { values: Float32Array.from(values), vectors: Float32Array.from(vectors) };
}
