/**
 * @module 8-bit Adam moments (block-wise quantized optimizer state, Dettmers et al. 2022, arXiv:2110.02861,
 * as Q-GaLore uses through bitsandbytes' AdamW8bit): each block of 256 moment values keeps one f32 scale
 * and 8-bit codes. Instead of bitsandbytes' dynamic-tree code map, a square-root companding gives small
 * values fine steps: m (signed) = sign·(c/127)²·absmax, v (≥ 0) = ((c/255)²)²·max — i.e. √|m| and ⁴√v
 * are quantized linearly. A moment costs 1 byte (+ 4/256) instead of 4.
 */

/** Values per block (one scale each). */
export const BLOCK = 256;

/** A moment vector in 8 bits: codes and per-block scales. */
export interface Moment8 {
  signed: boolean;
  codes: Int8Array | Uint8Array;
  scales: Float32Array;
}

/**
 * A zero moment of `n` values.
 *
 * @example
 * ```ts
 * const m = zeroMoment(1000, true); // 1000 codes + 4 scales
 * ```
 */
export function zeroMoment(n: number, signed: boolean): Moment8 {
  return {
    signed,
    codes: signed ? new Int8Array(n) : new Uint8Array(n),
    scales: new Float32Array(Math.ceil(n / BLOCK)),
  };
}

/** Decode `m` into `out` (length ≥ m.codes.length). */
export function decodeMoment(m: Moment8, out: Float32Array): void {
  const { codes, scales } = m, n = codes.length;
  for (let b = 0, i0 = 0; i0 < n; b++, i0 += BLOCK) {
    const s = scales[b], i1 = Math.min(i0 + BLOCK, n);
    if (m.signed) {
      for (let i = i0; i < i1; i++) {
        const c = codes[i] / 127;
        out[i] = (c < 0 ? -c * c : c * c) * s;
      }
    } else {
      for (let i = i0; i < i1; i++) {
        const c = codes[i] / 255, c2 = c * c;
        out[i] = c2 * c2 * s;
      }
    }
  }
}

/** Encode `x` (length = m.codes.length) into `m`: per block, the scale is its largest |value|. */
export function encodeMoment(m: Moment8, x: Float32Array): void {
  const { codes, scales } = m, n = codes.length;
  for (let b = 0, i0 = 0; i0 < n; b++, i0 += BLOCK) {
    const i1 = Math.min(i0 + BLOCK, n);
    let mx = 0;
    for (let i = i0; i < i1; i++) mx = Math.max(mx, Math.abs(x[i]));
    scales[b] = mx;
    if (mx === 0) {
      codes.fill(0, i0, i1);
      continue;
    }
    const inv = 1 / mx;
    if (m.signed) {
      for (let i = i0; i < i1; i++) {
        const r = Math.sqrt(Math.abs(x[i]) * inv) * 127;
        codes[i] = x[i] < 0 ? -Math.round(r) : Math.round(r);
      }
    } else {
      for (let i = i0; i < i1; i++) codes[i] = Math.round(Math.sqrt(Math.sqrt(x[i] * inv)) * 255);
    }
  }
}

/** Bytes of a moment's state. */
export const momentBytes = (m: Moment8): number => m.codes.byteLength + m.scales.byteLength;
