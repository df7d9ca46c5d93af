/**
 * @module Low-rank Adam inner step (GaLore-AdamW: Zhao et al. 2024, galore_torch/adamw.py; the
 * same step DCT-AdamW and Q-GaLore take on the projected gradient R): plain-TS reference of
 * wasm/adam.rs, f32 arithmetic emulated with Math.fround so both agree bit for bit.
 *   m ← β1·m + (1−β1)·R,  v ← β2·v + (1−β2)·R²,  N = a·m / (√v + e)
 * mode "adamw" (default): a = √bc2/bc1, e = ε·√bc2, i.e. N = m̂ / (√v̂ + ε) (torch AdamW).
 * mode "galore": a = √bc2/bc1, e = ε (HF style; GaLore's η_t folded into N, use eps 1e-6).
 * mode "none": a = 1, e = ε. bc_i = 1 − β_i^t. Defaults β = (0.9, 0.999), ε = 1e-8.
 */
import { adamCoefficients, type LowRankAdamOptions } from "./types.ts";

const f = Math.fround;

/**
 * Update moments m, v (r×n, in place) with the projected gradient and return N.
 *
 * @example
 * ```ts
 * const n = lowRankAdam(projGrad, m, v, { step: 1, eps: 1e-6, mode: "galore" });
 * ```
 */
export function lowRankAdam(
  r: Float32Array,
  m: Float32Array,
  v: Float32Array,
  opts: LowRankAdamOptions,
): Float32Array {
  const { b1, c1, b2, c2, a, e } = adamCoefficients(r.length, m, v, opts);
  const out = opts.out ?? new Float32Array(r.length);
  for (let i = 0; i < r.length; i++) {
    const g = r[i];
    const mm = f(f(b1 * m[i]) + f(c1 * g));
    const vv = f(f(b2 * v[i]) + f(c2 * f(g * g)));
    m[i] = mm;
    v[i] = vv;
    out[i] = f(a * mm) / f(f(Math.sqrt(vv)) + e);
  }
  return out;
}
