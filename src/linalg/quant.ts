/**
 * @module Q-GaLore group quantization (Zhang et al. 2024, arXiv 2407.08296; VITA-Group/Q-GaLore
 * utils/quantization.py, q_galore_adamw8bit.py): plain-TS reference of wasm/quant.rs, emulating
 * f32 arithmetic with Math.fround so both agree bit for bit.
 *
 * Per group of `groupSize` (default 256) consecutive elements of the flat tensor:
 *   s = max(max − min, 1e-5) / (2^b − 1),  z = clamp(−round(min / s), 0, 2^b − 1)
 *   q = clamp(round(x / s) + z, 0, 2^b − 1),  round = half to even (torch.round)
 *   stochastic rounding: floor(u) + [ρ < u − floor(u)], ρ ~ U[0, 1) (unbiased: E[q·s] = x)
 *   dequantize: (q − z) · s
 * ρ for element i is drawn from xorshift32 lane i mod 4 (streams 0..3 of the seed). Deviation:
 * a shorter last group is allowed (the official code asserts numel % group == 0). Quirk kept from
 * the official code: z is clamped to [0, 2^b − 1], so an all-positive group saturates at the top.
 */
import { checkQuantized, quantArgs, type Quantized, type QuantizeOptions } from "./types.ts";
import { streamState, XorShift32 } from "./rng.ts";

const f = Math.fround;

/** Round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Group-quantize x to 4 or 8 bits (round-to-nearest or stochastic).
 *
 * @example
 * ```ts
 * const q = quantize(weights, { bits: 8, stochastic: true, seed: step });
 * const back = dequantize(q);
 * ```
 */
export function quantize(x: Float32Array, opts: QuantizeOptions = {}): Quantized {
  const { bits, groupSize, stochastic, seed } = quantArgs(x, opts);
  const len = x.length, groups = Math.ceil(len / groupSize), maxq = 2 ** bits - 1;
  const codes = new Uint8Array(len), scales = new Float32Array(groups), zeros = new Uint8Array(groups);
  const lanes = [0, 1, 2, 3].map((l) => new XorShift32(streamState(seed, l)));
  for (let gi = 0; gi < groups; gi++) {
    const g0 = gi * groupSize, g1 = Math.min(g0 + groupSize, len);
    let mn = x[g0], mx = x[g0];
    for (let i = g0 + 1; i < g1; i++) {
      if (x[i] < mn) mn = x[i];
      if (x[i] > mx) mx = x[i];
    }
    const d = f(mx - mn);
    const s = f((d > f(1e-5) ? d : f(1e-5)) / maxq);
    const z = Math.min(Math.max(-roundHalfEven(f(mn / s)), 0), maxq);
    scales[gi] = s;
    zeros[gi] = z;
    for (let i = g0; i < g1; i++) {
      const u = f(x[i] / s);
      let r: number;
      if (stochastic) {
        const rho = lanes[i & 3].uniform01(), fl = Math.floor(u);
        r = rho < f(u - fl) ? fl + 1 : fl;
      } else r = roundHalfEven(u);
      codes[i] = Math.min(Math.max(f(r + z), 0), maxq);
    }
  }
  return { bits, groupSize, length: len, data: bits === 8 ? codes : packInt4(codes), scales, zeros };
}

/**
 * x ≈ (q − z)·s per group.
 *
 * @example
 * ```ts
 * const w = dequantize(quantize(new Float32Array([0.1, -0.2, 0.3]), { bits: 4 }));
 * ```
 */
export function dequantize(q: Quantized): Float32Array {
  checkQuantized(q);
  const codes = q.bits === 8 ? q.data : unpackInt4(q.data, q.length);
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) {
    const gi = Math.floor(i / q.groupSize);
    out[i] = (codes[i] - q.zeros[gi]) * q.scales[gi];
  }
  return out;
}

/**
 * Pack 4-bit codes two per byte, element 2i in the low nibble (odd length: last high nibble 0).
 *
 * @example
 * ```ts
 * packInt4(new Uint8Array([1, 2, 3])); // Uint8Array [0x21, 0x03]
 * ```
 */
export function packInt4(codes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(codes.length / 2));
  for (let i = 0; i < codes.length; i++) {
    if (codes[i] > 15) throw new Error(`code ${i} = ${codes[i]} does not fit 4 bits`);
    out[i >> 1] |= codes[i] << ((i & 1) * 4);
  }
  return out;
}

/**
 * Unpack `length` 4-bit codes.
 *
 * @example
 * ```ts
 * unpackInt4(new Uint8Array([0x21, 0x03]), 3); // Uint8Array [1, 2, 3]
 * ```
 */
export function unpackInt4(packed: Uint8Array, length: number): Uint8Array {
  if (packed.length !== Math.ceil(length / 2)) throw new Error(`expected ${Math.ceil(length / 2)} bytes`);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (packed[i >> 1] >> ((i & 1) * 4)) & 15;
  return out;
}
