/**
 * @module Mixed-radix complex FFT (Cooley & Tukey 1965; Singleton 1969, "An algorithm for computing
 * the mixed radix fast Fourier transform"): in-place decimation in frequency over the prime
 * factors of n (smallest first), then one digit-reversal permutation. Any n ≥ 1 works; the cost is
 * O(n·Σp) for n = Πp, so n = 2^a·3^b (every GPT-2 / SmolLM width) is O(n log n) and a prime n is a
 * plain O(n²) DFT. Sign +1, unnormalized: X[k] = Σ_j x[j]·e^{+2πi·jk/n} (the inverse-DFT direction
 * the fast DCT-III of src/linalg/dct_fft.ts needs). Plain-TS reference of wasm/fft.rs (which adds
 * radix-4/2/3 butterflies vectorized across 8 transforms).
 */

/** Factors, twiddles and digit reversal of an n-point FFT. */
export interface FftPlan {
  n: number;
  /** Prime factors of n, ascending (the DIF stage radices). */
  factors: number[];
  /** cos(2πt/n), sin(2πt/n) for t ∈ [0, n). */
  cos: Float64Array;
  sin: Float64Array;
  /** After the DIF stages, position p holds X[rev[p]]. */
  rev: Int32Array;
}

/**
 * Plan an n-point FFT (prime factors, root table, digit reversal).
 *
 * @example
 * ```ts
 * fftPlan(768).factors; // [2, 2, 2, 2, 2, 2, 2, 2, 3]
 * ```
 */
export function fftPlan(n: number): FftPlan {
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be an integer ≥ 1, got ${n}`);
  const factors: number[] = [];
  for (let rest = n, p = 2; rest > 1; p++) {
    if (p * p > rest) p = rest;
    while (rest % p === 0) factors.push(p), rest /= p;
  }
  const cos = new Float64Array(n), sin = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    [cos[t], sin[t]] = [Math.cos(2 * Math.PI * t / n), Math.sin(2 * Math.PI * t / n)];
  }
  // position p = q1·(n/p1) + q2·(n/(p1p2)) + … holds X[q1 + p1·q2 + p1p2·q3 + …]
  const rev = new Int32Array(n);
  for (let pos = 0; pos < n; pos++) {
    let rem = pos, span = n, k = 0, mult = 1;
    for (const p of factors) {
      span /= p;
      k += Math.floor(rem / span) * mult;
      rem %= span;
      mult *= p;
    }
    rev[pos] = k;
  }
  return { n, factors, cos, sin, rev };
}

/**
 * In place: (re, im) ← Σ_j (re + i·im)[j]·e^{+2πi·jk/n}, natural order.
 *
 * @example
 * ```ts
 * const re = new Float64Array([1, 0, 0]), im = new Float64Array(3);
 * fftInPlace(re, im, fftPlan(3)); // re = [1, 1, 1], im = [0, 0, 0]
 * ```
 */
export function fftInPlace(re: Float64Array, im: Float64Array, plan: FftPlan): void {
  const { n, cos, sin } = plan;
  const ar = new Float64Array(n), ai = new Float64Array(n); // one butterfly's inputs
  let span = n;
  for (const p of plan.factors) {
    const m = span / p, stride = n / span, step = n / p; // ω_span^t = root[t·stride], ω_p^t = root[t·step]
    for (let b = 0; b < n; b += span) {
      for (let j = 0; j < m; j++) {
        for (let q = 0; q < p; q++) [ar[q], ai[q]] = [re[b + j + q * m], im[b + j + q * m]];
        for (let k = 0; k < p; k++) {
          let sr = 0, si = 0;
          for (let q = 0; q < p; q++) { // Σ_q a_q·ω_p^{qk}
            const t = (q * k % p) * step;
            sr += ar[q] * cos[t] - ai[q] * sin[t];
            si += ar[q] * sin[t] + ai[q] * cos[t];
          }
          const t = j * k * stride % n; // DIF twiddle ω_span^{jk}
          re[b + j + k * m] = sr * cos[t] - si * sin[t];
          im[b + j + k * m] = sr * sin[t] + si * cos[t];
        }
      }
    }
    span = m;
  }
  ar.set(re), ai.set(im);
  for (let pos = 0; pos < n; pos++) [re[plan.rev[pos]], im[plan.rev[pos]]] = [ar[pos], ai[pos]];
}
