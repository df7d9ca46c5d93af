/**
 * @module INT8 weights without an fp32 master copy (Q-GaLore, Zhang et al. 2024, §3.2; official
 * `q_galore_adamw8bit.py`): a targeted weight lives as uint8 codes + per-group (256) scale and
 * zero point; the graph takes the codes and dequantizes them itself ((q − z)·s), so the gradient
 * is taken w.r.t. the dequantized tensor; after each optimizer step the updated float weight is
 * re-quantized with stochastic rounding (unbiased: E[q] = w/s) and the float copy dropped.
 */
import type { Tensor } from "../graph/ir.ts";
import { cast, input, mul, reshape, slice, sub, unsqueeze } from "../graph/ops.ts";
import { kernels } from "../linalg/active.ts";
import type { Quantized } from "../linalg/types.ts";
import type { WeightSource } from "../models/params.ts";
import type { QuantizedSource } from "../models/weights.ts";

export type { QuantizedSource };

/** Weights map whose quantized entries dequantize on `get` (a transient float copy). */
export class QuantizedWeights extends Map<string, Float32Array> {
  readonly codes: Map<string, Quantized> = new Map();

  /** Quantize `w` into codes (stochastic rounding with `seed` when `stochastic`) and drop its float copy. */
  store(name: string, w: Float32Array, groupSize: number, seed: number, stochastic = true): void {
    this.codes.set(name, kernels().quantize(w, { bits: 8, groupSize, stochastic, seed }));
    super.delete(name);
  }

  override get(name: string): Float32Array | undefined {
    const q = this.codes.get(name);
    return q ? kernels().dequantize(q) : super.get(name);
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

/**
 * INT8 source for `names` with groups of `groupSize`: inputs `<name>#q` (uint8, padded to whole
 * groups), `<name>#scale` (f32 [G]), `<name>#zero` (uint8 [G]) → W = reshape(((q − z)·s)[:numel]).
 */
export function int8Source(names: Set<string>, groupSize = 256): QuantizedSource {
  const source: WeightSource = (name, shape) => {
    if (!names.has(name)) return undefined;
    const numel = shape.reduce((a, b) => a * b, 1), groups = Math.ceil(numel / groupSize);
    const q = input(`${name}#q`, "uint8", [groups * groupSize]);
    const s = input(`${name}#scale`, "float32", [groups]), z = input(`${name}#zero`, "uint8", [groups]);
    const grouped = reshape(cast(q, "float32"), [groups, groupSize]);
    const deq: Tensor = mul(sub(grouped, unsqueeze(cast(z, "float32"), [1])), unsqueeze(s, [1]));
    const flat = reshape(deq, [groups * groupSize]);
    return reshape(numel === groups * groupSize ? flat : slice(flat, 0, 0, numel), shape);
  };
  return {
    names,
    source,
    feeds(name, w) {
      const q = (w as QuantizedWeights).codes?.get(name);
      if (!q) throw new Error(`weight ${name} is not quantized`);
      if (q.bits !== 8 || q.groupSize !== groupSize) {
        throw new Error(`${name}: expected INT8 groups of ${groupSize}`);
      }
      // codes of a weight whose size is a whole number of groups go in as they are (no copy)
      const n = q.scales.length * groupSize;
      const padded = q.data.length === n ? q.data : new Uint8Array(n);
      if (padded !== q.data) padded.set(q.data);
      return {
        [`${name}#q`]: { dtype: "uint8", shape: [padded.length], data: padded },
        [`${name}#scale`]: { dtype: "float32", shape: [q.scales.length], data: q.scales },
        [`${name}#zero`]: { dtype: "uint8", shape: [q.zeros.length], data: q.zeros },
      };
    },
  };
}
