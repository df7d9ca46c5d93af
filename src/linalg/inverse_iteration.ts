/**
 * @module Eigenvectors of a symmetric tridiagonal T for given eigenvalues by inverse iteration, as
 * LAPACK's dstein: the plain-TS reference of wasm/inverse_iteration.rs (same stream).
 *
 * LU of T − λI with partial pivoting (dgttrf; pivots below ε‖T‖₁ raised to it and kept as
 * reciprocals), 2 solves from a uniform start (stream `stream` of `seed`; for an eigenvalue
 * accurate to ε‖T‖ one solve already amplifies its vector by ~1/ε over any other more than
 * 1e-3‖T‖ away, the second settles the rest), each followed by Gram-Schmidt twice against the
 * earlier vectors of its cluster (eigenvalues within 1e-3‖T‖₁ of their predecessor, dstein's
 * ORTOL), so close and repeated eigenvalues still get orthonormal vectors. Solutions are rescaled
 * when an entry passes 2⁶⁰⁰.
 */
import { streamState, XorShift32 } from "./rng.ts";

const EPS = Number.EPSILON;
const ORTOL = 1e-3;
const ITERS = 2;
const BIG = 2 ** 600;

/**
 * LU (partial pivoting) of T − λI and solves with it; pivots below `tiny` are raised to it and
 * kept as reciprocals.
 */
class TridiagLu {
  readonly dd: Float64Array;
  readonly dl: Float64Array;
  readonly du: Float64Array;
  readonly du2: Float64Array;
  readonly swap: Uint8Array;
  constructor(readonly n: number) {
    [this.dd, this.dl, this.du, this.du2] = [0, 0, 0, 0].map(() => new Float64Array(n));
    this.swap = new Uint8Array(n);
  }
  /** dgttrf on (d − λ, e, e). */
  factor(d: Float64Array, e: Float64Array, lam: number, tiny: number): void {
    const { n, dd, dl, du, du2, swap } = this;
    for (let i = 0; i < n; i++) {
      dd[i] = d[i] - lam;
      dl[i] = du[i] = e[i];
      du2[i] = 0;
      swap[i] = 0;
    }
    for (let i = 0; i + 1 < n; i++) {
      if (Math.abs(dd[i]) >= Math.abs(dl[i])) {
        const fact = dd[i] !== 0 ? dl[i] / dd[i] : 0;
        dl[i] = fact;
        dd[i + 1] -= fact * du[i];
      } else {
        const fact = dd[i] / dl[i];
        dd[i] = dl[i];
        dl[i] = fact;
        const temp = du[i];
        du[i] = dd[i + 1];
        dd[i + 1] = temp - fact * dd[i + 1];
        if (i + 2 < n) {
          du2[i] = du[i + 1];
          du[i + 1] = -fact * du[i + 1];
        }
        swap[i] = 1;
      }
    }
    for (let i = 0; i < n; i++) dd[i] = 1 / (Math.abs(dd[i]) >= tiny ? dd[i] : dd[i] < 0 ? -tiny : tiny);
  }
  /** b ← (T − λI)⁻¹ b (dgttrs), rescaled whenever an entry passes 2⁶⁰⁰ (only the direction matters). */
  solve(b: Float64Array): void {
    const { n, dd, dl, du, du2, swap } = this;
    for (let i = 0; i + 1 < n; i++) {
      if (swap[i]) {
        const t = b[i];
        b[i] = b[i + 1];
        b[i + 1] = t - dl[i] * b[i];
      } else b[i + 1] -= dl[i] * b[i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = b[i];
      if (i + 1 < n) s -= du[i] * b[i + 1];
      if (i + 2 < n) s -= du2[i] * b[i + 2];
      b[i] = s * dd[i];
      if (Math.abs(b[i]) > BIG) { for (let t = 0; t < n; t++) b[t] /= BIG; }
    }
  }
}

/**
 * Eigenvectors (n×r, column j) of the tridiagonal (d, e) (‖T‖₁ = norm) for the eigenvalues
 * `lams` (descending), by inverse iteration with Gram-Schmidt inside clusters.
 *
 * @example
 * ```ts
 * const z = tridiagInverseIteration(Float64Array.of(2, 2), Float64Array.of(1, 0), 2, 3, [3], 0, 0);
 * ```
 */
export function tridiagInverseIteration(
  d: Float64Array,
  e: Float64Array,
  n: number,
  norm: number,
  lams: ArrayLike<number>,
  seed: number,
  stream: number,
): Float64Array {
  const r = lams.length, z = new Float64Array(n * r), rows = new Float64Array(r * n);
  const g = new XorShift32(streamState(seed, stream));
  if (norm === 0) { // T = 0: any orthonormal basis, take the identity's columns
    for (let j = 0; j < r; j++) z[j * r + j] = 1;
    return z;
  }
  const lu = new TridiagLu(n), b = new Float64Array(n);
  const tiny = EPS * norm, ortol = ORTOL * norm;
  let start = 0, prev = 0;
  for (let j = 0; j < r; j++) {
    let lam = lams[j];
    if (j > 0) {
      if (prev - lam > ortol) start = j;
      if (prev - lam < 10 * EPS * Math.abs(lam)) lam = prev - 10 * EPS * Math.abs(lam);
    }
    prev = lam;
    lu.factor(d, e, lam, tiny);
    for (let t = 0; t < n; t++) b[t] = g.uniformPm1();
    for (let it = 0; it < ITERS; it++) {
      lu.solve(b);
      for (let pass = 0; pass < 2; pass++) {
        for (let i = start; i < j; i++) {
          let c = 0;
          for (let t = 0; t < n; t++) c += b[t] * rows[i * n + t];
          for (let t = 0; t < n; t++) b[t] -= c * rows[i * n + t];
        }
      }
      let s = 0;
      for (let t = 0; t < n; t++) s += b[t] * b[t];
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let t = 0; t < n; t++) b[t] *= inv;
    }
    rows.set(b, j * n);
  }
  for (let j = 0; j < r; j++) for (let t = 0; t < n; t++) z[t * r + j] = rows[j * n + t];
  return z;
}
