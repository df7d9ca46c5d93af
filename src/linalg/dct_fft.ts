/**
 * @module Fast DCT selection: `dctTopR` (src/linalg/dct.ts) for the DCT basis itself, in
 * O(m·n·log N) instead of the m·n·N product G·Q. With Q = C (dct3_matrix, rows = frequencies) the
 * rows of S = G·Q are Cᵀ·g_i and the columns of S = Qᵀ·G are Cᵀ·g_t: orthonormal DCT-IIIs of the
 * rows (right side) or columns (left side) of G. Cᵀx = D⁻¹(x ⊘ w), with D the unnormalized DCT-II
 * and w the row scales of C (√(1/N), √(2/N), …), and D⁻¹ is Makhoul's inverse through one N-point
 * FFT (J. Makhoul 1980, "A fast cosine transform in one and two dimensions", IEEE TASSP 28(1)):
 * V[k] = e^{iπk/2N}·(X[k] − i·X[N−k]) (X[N] = 0), v = IDFT(V) is real, y[2j] = v[j],
 * y[2j+1] = v[N−1−j]. As v is real, two vectors share one complex FFT (V₁ + i·V₂).
 * Scores, ties and outputs equal `dctTopR`'s up to f32 rounding. Plain-TS reference of wasm/dct_fft.rs.
 */
import type { DctOptions, DctSelection } from "./types.ts";
import { dctArgs, topScores } from "./dct.ts";
import { fftInPlace, type FftPlan, fftPlan } from "./fft.ts";

/** Pre-twiddles, FFT plan and output order of the N-point orthonormal DCT-III. */
interface Dct3Plan {
  n: number;
  fft: FftPlan;
  /** e^{iπk/2N} / (N·w_k): Makhoul's twiddle with C's row scale and the IDFT's 1/N folded in. */
  tr: Float64Array;
  ti: Float64Array;
  /** 1 / (N·w_k) */
  sc: Float64Array;
  /** y[perm[j]] = v[j]: evens ascending, then odds descending. */
  perm: Int32Array;
}

function dct3Plan(n: number): Dct3Plan {
  const tr = new Float64Array(n),
    ti = new Float64Array(n),
    sc = new Float64Array(n),
    perm = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    sc[k] = 1 / (n * Math.sqrt((k === 0 ? 1 : 2) / n));
    tr[k] = Math.cos(Math.PI * k / (2 * n));
    ti[k] = Math.sin(Math.PI * k / (2 * n));
    perm[k] = 2 * k < n ? 2 * k : 2 * (n - 1 - k) + 1;
  }
  return { n, fft: fftPlan(n), tr, ti, sc, perm };
}

/**
 * Cᵀ·x of two vectors at once: x₁ = g[o1 + j·stride], x₂ = g[o2 + j·stride] (o2 < 0: zeros), j < N.
 * Leaves v₁ + i·v₂ in (re, im); y[perm[j]] = v[j].
 */
function dct3Pair(
  p: Dct3Plan,
  g: Float32Array,
  o1: number,
  o2: number,
  stride: number,
  re: Float64Array,
  im: Float64Array,
): void {
  const n = p.n, x1 = (j: number) => g[o1 + j * stride], x2 = (j: number) => o2 < 0 ? 0 : g[o2 + j * stride];
  for (let k = 0; k < n; k++) {
    // V₁ + i·V₂ = e^{iπk/2N}·(P + i·Q), P = X₁[k] + X₂[N−k], Q = X₂[k] − X₁[N−k]
    const a = p.sc[k], b = k === 0 ? 0 : p.sc[n - k];
    const P = a * x1(k) + (k === 0 ? 0 : b * x2(n - k)), Q = a * x2(k) - (k === 0 ? 0 : b * x1(n - k));
    re[k] = p.tr[k] * P - p.ti[k] * Q;
    im[k] = p.ti[k] * P + p.tr[k] * Q;
  }
  fftInPlace(re, im, p.fft);
}

/**
 * Orthonormal DCT-III y = Cᵀ·x (C = `dctBasis(N)`, rows = frequencies) in O(N log N).
 *
 * @example
 * ```ts
 * dct3(new Float32Array([1, 0, 0, 0])); // [0.5, 0.5, 0.5, 0.5]: column 0 of C
 * ```
 */
export function dct3(x: Float32Array): Float64Array {
  const n = x.length, p = dct3Plan(n), re = new Float64Array(n), im = new Float64Array(n);
  dct3Pair(p, x, 0, -1, 1, re, im);
  const y = new Float64Array(n);
  for (let j = 0; j < n; j++) y[p.perm[j]] = re[j];
  return y;
}

/**
 * `dctTopR` with Q = dctBasis(N), by fast DCT-IIIs: no basis argument, no N×N product.
 *
 * @example
 * ```ts
 * const { indices, projected } = dctTopRFft(grad, 768, 3072, 128); // left: 128×3072
 * ```
 */
export function dctTopRFft(
  g: Float32Array,
  m: number,
  n: number,
  r: number,
  opts: DctOptions = {},
): DctSelection {
  const { side, size, norm } = dctArgs(g, m, n, null, r, opts);
  const right = side === "right", count = right ? m : n; // vectors: rows (right) or columns (left)
  const step = right ? n : 1, stride = right ? 1 : n;
  const p = dct3Plan(size), re = new Float64Array(size), im = new Float64Array(size);
  const s = new Float32Array(size * count); // S (left) or Sᵀ (right): row k = frequency k
  for (let v = 0; v < count; v += 2) {
    dct3Pair(p, g, v * step, v + 1 < count ? (v + 1) * step : -1, stride, re, im);
    for (let j = 0; j < size; j++) {
      s[p.perm[j] * count + v] = re[j];
      if (v + 1 < count) s[p.perm[j] * count + v + 1] = im[j];
    }
  }
  const acc = new Float64Array(size);
  for (let k = 0; k < size; k++) {
    for (let v = 0; v < count; v++) {
      const x = s[k * count + v];
      acc[k] += norm === 2 ? Math.fround(x * x) : Math.abs(x);
    }
  }
  const { indices, scores } = topScores(acc, norm, r);
  const projected = new Float32Array(right ? m * r : r * n);
  indices.forEach((o, j) => {
    if (right) { for (let i = 0; i < m; i++) projected[i * r + j] = s[o * m + i]; }
    else projected.set(s.subarray(o * n, (o + 1) * n), j * n);
  });
  return { side, indices, scores, projected };
}
