/**
 * @module Symmetric eigendecomposition: the plain-TS reference of wasm/eigh.rs (f64 throughout).
 * Householder tridiagonalization + implicit QL (EISPACK tred2/tql2 as in JAMA), on
 * sym(A) = (A + Aᵀ)/2; ascending eigenvalues; eigenvector j in column j with its largest-magnitude
 * entry positive. The work matrix holds Vᵀ so inner loops run along rows.
 */
import { checkDim, checkMatrix, type Eigh } from "./types.ts";

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
