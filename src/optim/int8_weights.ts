/**
 * @module Quantized weights without an fp32 master copy. Q-GaLore (Zhang et al. 2024, §3.2; official
 * `q_galore_adamw8bit.py`): a targeted weight lives as INT8 codes + per-group (256) scale and zero
 * point; the graph takes the codes and dequantizes them itself ((q − z)·s), so the gradient is taken
 * w.r.t. the dequantized tensor; after each optimizer step the updated float weight is re-quantized
 * with stochastic rounding (unbiased: E[q] = w/s). The same store holds a frozen LoRA base in INT4
 * (QLoRA-style, Dettmers et al. 2023, with linear group quantization instead of NF4; groups of 64).
 * Codes are kept in the form the graph reads: INT8 one per element padded to whole groups, INT4 two
 * per byte (element 2j in the low nibble of byte j).
 */
import { input } from "../graph/ops.ts";
import { dequantizeOp } from "../graph/fused.ts";
import { kernels } from "../linalg/active.ts";
import type { Quantized } from "../linalg/types.ts";
import type { WeightSource } from "../models/params.ts";
import type { QuantizedSource } from "../models/weights.ts";

export type { QuantizedSource };

/** Values quantized per kernel call by {@link QuantizedWeights.storeFrom} (a multiple of the group size). */
const QUANT_CHUNK = 1 << 20;
/** The same for deterministic rounding, which does not depend on the chunking. */
const QUANT_CHUNK_DETERMINISTIC = 1 << 16;
/** The float chunk {@link QuantizedWeights.storeFrom} fills (shared by every call). */
let scratch = new Float32Array(0);

/**
 * Bytes of `length` values' codes in the form the graph reads: padded to whole groups of `groupSize`.
 *
 * @example
 * ```ts
 * fedBytes(1000, 256, 4); // 512: 4 groups of 256 values, 2 per byte
 * ```
 */
export function fedBytes(length: number, groupSize: number, bits: number): number {
  return Math.ceil((Math.ceil(length / groupSize) * groupSize * bits) / 8);
}

/** Codes in the form the graph reads (see the module doc): padded to whole groups. */
export function feedForm(q: Quantized): Uint8Array {
  const n = fedBytes(q.scales.length * q.groupSize, q.groupSize, q.bits);
  if (q.data.length === n) return q.data;
  const p = new Uint8Array(n);
  p.set(q.data);
  return p;
}

/** The kernels' layout again (INT4 is packed there too; only the padding goes). */
function unfed(q: Quantized): Quantized {
  const n = q.bits === 8 ? q.length : Math.ceil(q.length / 2);
  return q.data.length === n ? q : { ...q, data: q.data.subarray(0, n) };
}

/** Weights map whose quantized entries dequantize on `get` (a transient float copy). */
export class QuantizedWeights extends Map<string, Float32Array> {
  /** Quantized weights, their codes in fed form (`data` holds padded INT8 or packed INT4 codes). */
  readonly codes: Map<string, Quantized> = new Map();

  /**
   * Quantize `w` (stochastic rounding with `seed` when `stochastic`) and drop its float copy. A weight
   * stored before is overwritten in place (its arrays may live in a device's memory).
   */
  store(
    name: string,
    w: Float32Array,
    groupSize: number,
    seed: number,
    stochastic = true,
    bits: 4 | 8 = 8,
  ): void {
    this.#quantize(name, w.length, (off, n) => w.subarray(off, off + n), {
      groupSize,
      seed,
      stochastic,
      bits,
    });
  }

  /**
   * {@link store} from a source that fills chunks of the float tensor (`fill(offset, dst)`): the tensor is
   * quantized a chunk of whole groups (≤ 2²⁰ values) at a time, so neither a full float copy nor a
   * full-size kernel call is needed (the stochastic stream of chunk c is seeded with seed + c).
   */
  storeFrom(
    name: string,
    length: number,
    fill: (offset: number, dst: Float32Array) => void,
    o: { groupSize: number; seed: number; stochastic?: boolean; bits?: 4 | 8 },
  ): void {
    this.#quantize(name, length, (off, n) => {
      // one scratch chunk for every call: a fresh one per tensor piled up tens of MB of garbage
      if (scratch.length < n) scratch = new Float32Array(n);
      const x = scratch.subarray(0, n);
      fill(off, x);
      return x;
    }, o);
  }

  /** Quantize the values `chunk(offset, n)` gives, a chunk of whole groups at a time, into `name`'s codes. */
  #quantize(
    name: string,
    length: number,
    chunk: (offset: number, n: number) => Float32Array,
    o: { groupSize: number; seed: number; stochastic?: boolean; bits?: 4 | 8 },
  ): void {
    const bits = o.bits ?? 8, gs = o.groupSize, groups = Math.ceil(length / gs);
    const bytes = fedBytes(length, gs, bits), prev = this.codes.get(name);
    const q: Quantized = prev && prev.bits === bits && prev.groupSize === gs && prev.length === length
      ? prev
      : {
        bits,
        groupSize: gs,
        length,
        data: new Uint8Array(bytes),
        scales: new Float32Array(groups),
        zeros: new Uint8Array(groups),
      };
    // deterministic rounding is the same in any chunking: small chunks keep the kernels' memory small
    const most = o.stochastic ?? true ? QUANT_CHUNK : QUANT_CHUNK_DETERMINISTIC;
    const step = Math.max(gs, Math.floor(most / gs) * gs);
    for (let off = 0, c = 0; off < length; off += step, c++) {
      const x = chunk(off, Math.min(step, length - off));
      const part = kernels().quantize(x, {
        bits,
        groupSize: gs,
        stochastic: o.stochastic ?? true,
        seed: o.seed + c,
      });
      q.data.set(part.data, (off * bits) / 8);
      q.scales.set(part.scales, off / gs);
      q.zeros.set(part.zeros, off / gs);
    }
    this.codes.set(name, q);
    super.delete(name);
  }

  /**
   * Move every array into memory that `store` allocates (a lean device): float weights and codes are
   * then read by programs in place, and later re-quantizations write into them.
   */
  adopt(store: <T extends Float32Array | Uint8Array>(a: T) => T): void {
    for (const [k, v] of [...super.entries()]) super.set(k, store(v));
    for (const q of this.codes.values()) {
      q.data = store(q.data);
      q.scales = store(q.scales);
      q.zeros = store(q.zeros);
    }
  }

  override get(name: string): Float32Array | undefined {
    const q = this.codes.get(name);
    return q ? kernels().dequantize(unfed(q)) : super.get(name);
  }

  override has(name: string): boolean {
    return this.codes.has(name) || super.has(name);
  }

  override get size(): number {
    return super.size + this.codes.size;
  }

  /** All weights, quantized ones dequantized on the fly (one float copy at a time). */
  override *entries(): MapIterator<[string, Float32Array]> {
    yield* super.entries();
    for (const k of this.codes.keys()) yield [k, this.get(k)!];
  }

  override [Symbol.iterator](): MapIterator<[string, Float32Array]> {
    return this.entries();
  }

  override *keys(): MapIterator<string> {
    yield* super.keys();
    yield* this.codes.keys();
  }

  override *values(): MapIterator<Float32Array> {
    for (const [, v] of this.entries()) yield v;
  }

  /** Float weights stored unquantized (not the INT8 ones). */
  floatEntries(): IterableIterator<[string, Float32Array]> {
    return super.entries();
  }

  /** Exact state of quantized weight `name` as float tensors (codes and zero points are integers). */
  exportCodes(name: string): Record<string, Float32Array> {
    const q = this.codes.get(name)!;
    return {
      codes: Float32Array.from(q.data),
      scales: q.scales,
      zeros: Float32Array.from(q.zeros),
      meta: Float32Array.of(q.bits, q.groupSize, q.length),
    };
  }

  /** Restore what {@link exportCodes} returned. */
  importCodes(name: string, t: Record<string, Float32Array>): void {
    const [bits, groupSize, length] = t.meta;
    this.codes.set(name, {
      bits: bits as 4 | 8,
      groupSize,
      length,
      data: Uint8Array.from(t.codes),
      scales: t.scales.slice(),
      zeros: Uint8Array.from(t.zeros),
    });
    super.delete(name);
  }

  /** Bytes of the codes, scales and zero points. */
  get quantizedBytes(): number {
    let n = 0;
    for (const q of this.codes.values()) n += q.data.byteLength + q.scales.byteLength + q.zeros.byteLength;
    return n;
  }
}

/** How one weight is quantized. */
export interface QuantSpec {
  bits: 4 | 8;
  groupSize: number;
}

/**
 * Quantized source for `names` (`bits` 8 or 4, groups of `groupSize`; or a per-name map): inputs
 * `<name>#q` (uint8 codes in fed form), `<name>#scale` (f32 [G]), `<name>#zero` (uint8 [G]) →
 * W = reshape(((q − z)·s)[:numel]).
 */
export function quantizedSource(
  names: Set<string> | ReadonlyMap<string, QuantSpec>,
  bits: 4 | 8 = 8,
  groupSize = 256,
): QuantizedSource {
  const specs = names instanceof Map ? names : new Map([...names].map((n) => [n, { bits, groupSize }]));
  const source: WeightSource = (name, shape) => {
    const spec = specs.get(name);
    if (!spec) return undefined;
    const numel = shape.reduce((a, b) => a * b, 1), groups = Math.ceil(numel / spec.groupSize);
    const q = input(`${name}#q`, "uint8", [fedBytes(numel, spec.groupSize, spec.bits)]);
    const s = input(`${name}#scale`, "float32", [groups]), z = input(`${name}#zero`, "uint8", [groups]);
    return dequantizeOp(q, s, z, shape, spec.bits);
  };
  return {
    names: new Set(specs.keys()),
    source,
    feeds(name, w) {
      const q = (w as QuantizedWeights).codes?.get(name), spec = specs.get(name)!;
      if (!q) throw new Error(`weight ${name} is not quantized`);
      if (q.bits !== spec.bits || q.groupSize !== spec.groupSize) {
        throw new Error(`${name}: expected ${spec.bits}-bit groups of ${spec.groupSize}`);
      }
      return {
        [`${name}#q`]: { dtype: "uint8", shape: [q.data.length], data: q.data },
        [`${name}#scale`]: { dtype: "float32", shape: [q.scales.length], data: q.scales },
        [`${name}#zero`]: { dtype: "uint8", shape: [q.zeros.length], data: q.zeros },
      };
    },
  };
}

/** The INT8 source of Q-GaLore (see {@link quantizedSource}). */
export function int8Source(names: Set<string>, groupSize = 256): QuantizedSource {
  return quantizedSource(names, 8, groupSize);
}
