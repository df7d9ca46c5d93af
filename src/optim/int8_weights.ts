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
import type { HostTensor } from "../runtime/session.ts";

/** Codes in the form the graph reads (see the module doc): padded to whole groups. */
export function feedForm(q: Quantized): Uint8Array {
  const n = Math.ceil((q.scales.length * q.groupSize * q.bits) / 8);
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
    const q = kernels().quantize(w, { bits, groupSize, stochastic, seed });
    const fed = feedForm(q), prev = this.codes.get(name);
    if (
      prev && prev.bits === bits && prev.data.length === fed.length && prev.scales.length === q.scales.length
    ) {
      prev.data.set(fed);
      prev.scales.set(q.scales);
      prev.zeros.set(q.zeros);
    } else this.codes.set(name, { ...q, data: fed });
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

/** The graph side: which weights enter as quantized codes, and how to feed them. */
export interface QuantizedSource {
  names: Set<string>;
  source: WeightSource;
  feeds(name: string, w: Map<string, Float32Array>): Record<string, HostTensor>;
}

/**
 * Quantized source for `names` (`bits` 8 or 4, groups of `groupSize`): inputs `<name>#q` (uint8 codes in
 * fed form), `<name>#scale` (f32 [G]), `<name>#zero` (uint8 [G]) → W = reshape(((q − z)·s)[:numel]).
 */
export function quantizedSource(names: Set<string>, bits: 4 | 8, groupSize: number): QuantizedSource {
  const source: WeightSource = (name, shape) => {
    if (!names.has(name)) return undefined;
    const numel = shape.reduce((a, b) => a * b, 1), groups = Math.ceil(numel / groupSize);
    const q = input(`${name}#q`, "uint8", [Math.ceil((groups * groupSize * bits) / 8)]);
    const s = input(`${name}#scale`, "float32", [groups]), z = input(`${name}#zero`, "uint8", [groups]);
    return dequantizeOp(q, s, z, shape, bits);
  };
  return {
    names,
    source,
    feeds(name, w) {
      const q = (w as QuantizedWeights).codes?.get(name);
      if (!q) throw new Error(`weight ${name} is not quantized`);
      if (q.bits !== bits || q.groupSize !== groupSize) {
        throw new Error(`${name}: expected ${bits}-bit groups of ${groupSize}`);
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
