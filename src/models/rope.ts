/**
 * @module RoPE variants of HF `modeling_rope_utils.py`: inverse frequencies for `default`, `linear`
 * (inv_freq / factor), `dynamic` (NTK; equal to default within max_position_embeddings, the only
 * range we run), `llama3` (wavelength-banded smoothing, Llama 3.1) and `longrope` (Phi-3.5/4:
 * short or long per-dim factors, chosen in-graph by max(position) + 1 > original context, cos/sin
 * × √(1 + ln(factor)/ln(original))). Partial rotary: inv_freq over int(E·partial) dims.
 */
import type { Tensor } from "../graph/ir.ts";
import { add, cast, less, reduceMax, where } from "../graph/ops.ts";
import { ropeTablesFromInvFreq } from "../graph/nn.ts";

/** The RoPE of one attention kind, normalized from `rope_scaling` / `rope_parameters`. */
export interface RopeSpec {
  type: "default" | "linear" | "dynamic" | "llama3" | "longrope";
  theta: number;
  /** Rotated dims per head: int(head_dim · partial_rotary_factor), even. */
  dim: number;
  factor?: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  /** Pre-training context (`original_max_position_embeddings`). */
  originalMax?: number;
  shortFactor?: number[];
  longFactor?: number[];
  /** cos/sin multiplier (LongRoPE `attention_factor`). */
  attentionFactor?: number;
}

/** θ^(−2i/dim) for i < dim/2, as HF's `_compute_default_rope_parameters`. */
function baseInvFreq(theta: number, dim: number): number[] {
  return Array.from({ length: dim / 2 }, (_, i) => 1 / Math.pow(theta, (2 * i) / dim));
}

/** Llama 3.1: keep short wavelengths, divide long ones by `factor`, blend in between. */
function llama3InvFreq(s: RopeSpec): number[] {
  const factor = s.factor!, low = s.lowFreqFactor!, high = s.highFreqFactor!, ctx = s.originalMax!;
  const lowWavelen = ctx / low, highWavelen = ctx / high;
  return baseInvFreq(s.theta, s.dim).map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / factor;
    const smooth = (ctx / wavelen - low) / (high - low);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}

/**
 * Inverse frequencies and cos/sin scale of `s`; for LongRoPE also the long-context set.
 *
 * @example
 * ```ts
 * const { invFreq } = ropeFrequencies({ type: "linear", theta: 10000, dim: 8, factor: 2 });
 * invFreq[0]; // 0.5
 * ```
 */
export function ropeFrequencies(s: RopeSpec): {
  invFreq: Float32Array;
  scale: number;
  long?: Float32Array;
} {
  switch (s.type) {
    case "default":
    case "dynamic":
      return { invFreq: Float32Array.from(baseInvFreq(s.theta, s.dim)), scale: 1 };
    case "linear":
      return { invFreq: Float32Array.from(baseInvFreq(s.theta, s.dim), (f) => f / s.factor!), scale: 1 };
    case "llama3":
      return { invFreq: Float32Array.from(llama3InvFreq(s)), scale: 1 };
    case "longrope": {
      const base = baseInvFreq(s.theta, s.dim);
      return {
        invFreq: Float32Array.from(base, (f, i) => f / s.shortFactor![i]),
        long: Float32Array.from(base, (f, i) => f / s.longFactor![i]),
        scale: s.attentionFactor ?? 1,
      };
    }
  }
}

/**
 * cos/sin tables (B,1,T,dim) of `s` at `positions` (B,T). LongRoPE picks the long factors when
 * max(positions) + 1 exceeds the original context, per batch (HF `longrope_frequency_update`).
 *
 * @example
 * ```ts
 * import { input } from "../graph/ops.ts";
 * const { cos } = ropeFor({ type: "default", theta: 10000, dim: 8 }, input("position_ids", "int64", [1, 4]));
 * cos.shape; // [1, 1, 4, 8]
 * ```
 */
export function ropeFor(s: RopeSpec, positions: Tensor): { cos: Tensor; sin: Tensor } {
  const f = ropeFrequencies(s);
  const short = ropeTablesFromInvFreq(positions, f.invFreq, f.scale);
  if (!f.long) return short;
  const long = ropeTablesFromInvFreq(positions, f.long, f.scale);
  const seqLen = add(reduceMax(cast(positions, "float32"), [0, 1]), 1);
  const useLong = less(s.originalMax!, seqLen);
  return { cos: where(useLong, long.cos, short.cos), sin: where(useLong, long.sin, short.sin) };
}
