/**
 * @module Symmetric eigendecomposition, Cholesky, and the K-FAC Kronecker-factored inverse-vector
 * product: plain-TS references of wasm/eigh.rs (f64 throughout).
 *
 * eighSym: Householder tridiagonalization + implicit QL (EISPACK tred2/tql2 as in JAMA), on
 * sym(A) = (A + Aᵀ)/2; ascending eigenvalues; eigenvector j in column j with its largest-magnitude
 * entry positive. The work matrix holds Vᵀ so inner loops run along rows.
 * kronInvVec (Martens & Grosse 2015; kronfluence eigenbasis form): with S = Q_S diag(s) Q_Sᵀ
 * (d_out) and A = Q_A diag(a) Q_Aᵀ (d_in), (S⊗A + λI)⁻¹ vec(G) = Q_S [(Q_Sᵀ G Q_A) ⊘ (s_i a_j + λ)]
 * Q_Aᵀ for G d_out×d_in and row-major vec. kronfluence's default damping is 0.1·mean(s_i a_j).
 */
import { checkDim, checkEigh, checkMatrix, type Eigh } from "./types.ts";
import { gemm64 } from "./matmul.ts";

function hypot(a: number, b: number): number {
  a = Math.abs(a), b = Math.abs(b);
  const big = Math.max(a, b), small = Math.min(a, b);
  if (big === 0) return 0;
  const t = small / big;
  return big * Math.sqrt(1 + t * t);
}

function tred2(vt: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  const at = (r: number, c: number) => r * n + c;
  for (let j = 0; j < n; j++) d[j] = vt[at(j, n - 1)];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0, h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = vt[at(j, i - 1)];
        vt[at(j, i)] = 0;
        vt[at(i, j)] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1], g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      e.fill(0, 0, i);
      for (let j = 0; j < i; j++) {
        f = d[j];
        vt[at(i, j)] = f;
        g = e[j] + vt[at(j, j)] * f;
        for (let k = j + 1; k < i; k++) {
          g += vt[at(j, k)] * d[k];
          e[k] += vt[at(j, k)] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k < i; k++) vt[at(j, k)] -= f * e[k] + g * d[k];
        d[j] = vt[at(j, i - 1)];
        vt[at(j, i)] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    vt[at(i, n - 1)] = vt[at(i, i)];
    vt[at(i, i)] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = vt[at(i + 1, k)] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += vt[at(i + 1, k)] * vt[at(j, k)];
        for (let k = 0; k <= i; k++) vt[at(j, k)] -= g * d[k];
      }
    }
    vt.fill(0, at(i + 1, 0), at(i + 1, i + 1));
  }
  for (let j = 0; j < n; j++) {
    d[j] = vt[at(j, n - 1)];
    vt[at(j, n - 1)] = 0;
  }
  vt[at(n - 1, n - 1)] = 1;
  e[0] = 0;
}

function tql2(vt: Float64Array, d: Float64Array, e: Float64Array, n: number): boolean {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  const eps = Number.EPSILON;
  let f = 0, tst1 = 0, ok = true;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && !(Math.abs(e[m]) <= eps * tst1)) m++;
    if (m > l) {
      for (let iter = 1;; iter++) {
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = hypot(p, 1);
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
          r = hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          for (let k = 0; k < n; k++) {
            const x = vt[i * n + k], y = vt[(i + 1) * n + k];
            vt[i * n + k] = c * x - s * y;
            vt[(i + 1) * n + k] = s * x + c * y;
          }
        }
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
        if (!(Math.abs(e[l]) > eps * tst1)) break;
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

/**
 * Eigendecomposition of the symmetric n×n matrix a (its symmetric part is used).
 *
 * @example
 * ```ts
 * const { values, vectors } = eighSym(new Float32Array([2, 1, 1, 2]), 2); // values [1, 3]
 * ```
 */
export function eighSym(a: Float32Array, n: number): Eigh {
  checkDim("n", n);
  checkMatrix("a", a, n, n);
  const vt = new Float64Array(n * n), d = new Float64Array(n), e = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) vt[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
  tred2(vt, d, e, n);
  if (!tql2(vt, d, e, n)) throw new Error("eighSym: QL iteration did not converge (non-finite input?)");
  const ord = Array.from({ length: n }, (_, j) => j).sort((x, y) => d[x] - d[y] || x - y);
  const values = new Float32Array(n), vectors = new Float32Array(n * n);
  ord.forEach((o, j) => {
    values[j] = d[o];
    let at = 0;
    for (let k = 1; k < n; k++) if (Math.abs(vt[o * n + k]) > Math.abs(vt[o * n + at])) at = k;
    const sign = vt[o * n + at] < 0 ? -1 : 1;
    for (let k = 0; k < n; k++) vectors[k * n + j] = sign * vt[o * n + k];
  });
  return { values, vectors };
}

/**
 * Lower-triangular L with A = L Lᵀ (f64 inside); throws if A is not symmetric positive definite.
 *
 * @example
 * ```ts
 * const l = cholesky(new Float32Array([4, 2, 2, 3]), 2); // [2, 0, 1, √2]
 * ```
 */
export function cholesky(a: Float32Array, n: number): Float32Array {
  checkDim("n", n);
  checkMatrix("a", a, n, n);
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const s = a[i * n + j] - dotRows(w, i * n, j * n, j);
      if (i === j) {
        if (!(s > 0) || s === Infinity) throw notSpd(i, s);
        w[i * n + i] = Math.sqrt(s);
      } else w[i * n + j] = s / w[j * n + j];
    }
  }
  return Float32Array.from(w);
}

function dotRows(w: Float64Array, x: number, y: number, len: number): number {
  let s = 0;
  for (let t = 0; t < len; t++) s += w[x + t] * w[y + t];
  return s;
}

/**
 * The error thrown for a non-SPD matrix at pivot `i`.
 *
 * @example
 * ```ts
 * throw notSpd(3);
 * ```
 */
export function notSpd(i: number, s?: number): Error {
  return new Error(
    `cholesky: matrix is not symmetric positive definite (pivot ${i}${s === undefined ? "" : ` = ${s}`})`,
  );
}

/**
 * X (n×k) solving L Lᵀ X = B, by forward and back substitution in f64.
 *
 * @example
 * ```ts
 * const x = choleskySolve(cholesky(a, n), n, b, 1);
 * ```
 */
export function choleskySolve(l: Float32Array, n: number, b: Float32Array, k: number): Float32Array {
  checkDim("n", n);
  checkDim("k", k);
  checkMatrix("l", l, n, n);
  checkMatrix("b", b, n, k);
  const y = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < i; p++) for (let t = 0; t < k; t++) y[i * k + t] -= l[i * n + p] * y[p * k + t];
    for (let t = 0; t < k; t++) y[i * k + t] /= l[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let p = i + 1; p < n; p++) for (let t = 0; t < k; t++) y[i * k + t] -= l[p * n + i] * y[p * k + t];
    for (let t = 0; t < k; t++) y[i * k + t] /= l[i * n + i];
  }
  return Float32Array.from(y);
}

/**
 * K-FAC inverse-vector product (S⊗A + λI)⁻¹ vec(G) = Q_S [(Q_Sᵀ G Q_A) ⊘ (s_i a_j + λ)] Q_Aᵀ.
 *
 * @example
 * ```ts
 * const p = kronInvVec(grad, dOut, dIn, eighSym(sFactor, dOut), eighSym(aFactor, dIn), 1e-3);
 * ```
 */
export function kronInvVec(
  g: Float32Array,
  dOut: number,
  dIn: number,
  eigS: Eigh,
  eigA: Eigh,
  damping: number,
): Float32Array {
  kronArgs(g, dOut, dIn, eigS, eigA, damping);
  const t = gemm64(dOut, dIn, dIn, gemm64(dOut, dIn, dOut, eigS.vectors, 1, dOut, g), dIn, 1, eigA.vectors);
  for (let i = 0; i < dOut; i++) {
    for (let j = 0; j < dIn; j++) t[i * dIn + j] /= eigS.values[i] * eigA.values[j] + damping;
  }
  return Float32Array.from(
    gemm64(
      dOut,
      dIn,
      dIn,
      gemm64(dOut, dIn, dOut, eigS.vectors, dOut, 1, t),
      dIn,
      1,
      transpose(eigA.vectors, dIn),
    ),
  );
}

function transpose(q: Float32Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = q[i * n + j];
  return t;
}

/**
 * Validate kronInvVec arguments.
 *
 * @example
 * ```ts
 * kronArgs(g, dOut, dIn, eigS, eigA, 0.1);
 * ```
 */
export function kronArgs(
  g: Float32Array,
  dOut: number,
  dIn: number,
  eigS: Eigh,
  eigA: Eigh,
  damping: number,
): void {
  checkDim("dOut", dOut);
  checkDim("dIn", dIn);
  checkMatrix("g", g, dOut, dIn);
  checkEigh("eigS", eigS, dOut);
  checkEigh("eigA", eigA, dIn);
  if (!(damping >= 0) || !Number.isFinite(damping)) {
    throw new Error(`damping must be finite and ≥ 0, got ${damping}`);
  }
}
