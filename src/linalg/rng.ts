/**
 * @module The seeded PRNG shared bit for bit with the WASM kernels (wasm/math.rs): a lowbias32 hash
 * (C. Wellons) turns (seed, stream) into a nonzero state, then Marsaglia's xorshift32 (13, 17, 5)
 * draws. Uniforms keep the top 24 bits, so they are exact in f32.
 */

/**
 * lowbias32 integer hash.
 *
 * @example
 * ```ts
 * mix32(1); // a well-mixed u32
 * ```
 */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d);
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Initial xorshift32 state of stream `stream` of `seed` (never 0).
 *
 * @example
 * ```ts
 * const g = new XorShift32(streamState(42, 0));
 * g.uniformPm1(); // in [-1, 1)
 * ```
 */
export function streamState(seed: number, stream: number): number {
  const s = mix32((seed + Math.imul(stream + 1, 0x9e3779b9)) >>> 0);
  return s === 0 ? 0x6d2b79f5 : s;
}

/**
 * Marsaglia xorshift32 generator.
 *
 * @example
 * ```ts
 * const g = new XorShift32(streamState(0, 1));
 * const u = g.uniform01();
 * ```
 */
export class XorShift32 {
  /** Current state (u32, nonzero). */
  state: number;
  constructor(state: number) {
    this.state = state >>> 0 || 0x6d2b79f5;
  }
  /** Next u32. */
  next(): number {
    let s = this.state;
    s = (s ^ (s << 13)) >>> 0;
    s = (s ^ (s >>> 17)) >>> 0;
    s = (s ^ (s << 5)) >>> 0;
    this.state = s;
    return s;
  }
  /** Uniform in [-1, 1) with 24 bits. */
  uniformPm1(): number {
    return (this.next() >>> 8) * 2 ** -23 - 1;
  }
  /** Uniform in [0, 1) with 24 bits. */
  uniform01(): number {
    return (this.next() >>> 8) * 2 ** -24;
  }
}
