/**
 * @module Layers built from the primitive ops of `ops.ts` and the fused ops of `fused.ts` (norms,
 * activations, RoPE, attention, LM-head cross-entropy: one op each, with their own backward ops).
 * Legend: B batch, T sequence, D model width, H heads, K key/value heads, E head dim, V vocab.
 */
import type { Tensor } from "./ir.ts";
import {
  add,
  cast,
  concat,
  constant,
  cos,
  div,
  equal,
  matmul,
  mul,
  not,
  reduceSum,
  reshape,
  sin,
  slice,
  transpose,
  unsqueeze,
} from "./ops.ts";
import {
  attentionOp,
  type AttentionOptions,
  geluTanhOp,
  layerNormOp,
  lmTokenNll,
  repeatKv,
  rmsNormOp,
  ropeOp,
  siluOp,
  tokenNllOfLogits,
} from "./fused.ts";

/** x (…,D) @ w (D,N) + b: a linear layer with weight stored [in, out]. */
export function linear(x: Tensor, w: Tensor, b?: Tensor): Tensor {
  const y = matmul(x, w);
  return b ? add(y, b) : y;
}

/** LayerNorm over the last axis: (x − μ)/√(σ² + ε)·γ + β (one fused op). */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor | undefined, eps = 1e-5): Tensor {
  return layerNormOp(x, gamma, beta, eps);
}

/** RMSNorm over the last axis (LLaMA): x/√(mean(x²) + ε)·(γ + offset); Gemma uses offset 1. */
export function rmsNorm(x: Tensor, gamma: Tensor, eps = 1e-6, offset = 0): Tensor {
  return rmsNormOp(x, gamma, eps, offset);
}

/** GELU, tanh approximation (GPT-2 `gelu_new`): ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluTanh(x: Tensor): Tensor {
  return geluTanhOp(x);
}

/** SiLU: x·σ(x). */
export function silu(x: Tensor): Tensor {
  return siluOp(x);
}

/**
 * RoPE cos/sin tables (B,1,T,E) from integer `positions` (B,T), HF rotate-half layout:
 * inv_freq_i = θ^(−2i/E), emb = concat(freqs, freqs).
 */
export function ropeTables(positions: Tensor, headDim: number, theta: number): { cos: Tensor; sin: Tensor } {
  const invFreq = Float32Array.from(
    { length: headDim / 2 },
    (_, i) => 1 / Math.pow(theta, (2 * i) / headDim),
  );
  return ropeTablesFromInvFreq(positions, invFreq);
}

/**
 * RoPE cos/sin tables (B,1,T,2·F) from given inverse frequencies (F): scaled variants (linear,
 * llama3, LongRoPE) and partial rotary (2·F < head dim); `scale` multiplies cos and sin (HF's
 * `attention_scaling`).
 */
export function ropeTablesFromInvFreq(
  positions: Tensor,
  invFreq: Float32Array,
  scale = 1,
): { cos: Tensor; sin: Tensor } {
  const half = invFreq.length;
  const pos = unsqueeze(cast(positions, "float32"), [-1]); // (B,T,1)
  const freqs = mul(pos, constant(invFreq, [half])); // (B,T,F)
  const emb = unsqueeze(concat([freqs, freqs], -1), [1]); // (B,1,T,2F)
  return scale === 1
    ? { cos: cos(emb), sin: sin(emb) }
    : { cos: mul(cos(emb), scale), sin: mul(sin(emb), scale) };
}

/**
 * Apply RoPE to q or k (B,H,T,E) with tables from {@link ropeTables} (one fused op). Tables narrower than
 * E rotate the first dims only and pass the rest through (partial rotary, HF Phi-3).
 */
export function applyRope(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const e = x.dim(-1) as number, r = cos.dim(-1) as number;
  if (r === e) return ropeOp(x, cos, sin);
  return concat([ropeOp(slice(x, -1, 0, r), cos, sin), slice(x, -1, r, e)], -1);
}

/** Split (B,T,H·E) into heads (B,H,T,E). */
export function splitHeads(x: Tensor, heads: number, headDim: number): Tensor {
  return transposeHeads(reshape(x, [0, 0, heads, headDim]));
}
/** Merge heads (B,H,T,E) back into (B,T,H·E). */
export function mergeHeads(x: Tensor): Tensor {
  const h = x.dim(1) as number, e = x.dim(3) as number;
  return reshape(transposeHeads(x), [0, 0, h * e]);
}
const transposeHeads = (x: Tensor) => transpose(x, [0, 2, 1, 3]);

export { repeatKv };

/**
 * Causal scaled dot-product attention (one fused op). q (B,H,Tq,E), k/v (B,K,Tk,E) with K dividing H
 * (grouped-query attention: no repeated copy of k/v); `keyMask` (B,Tk) int64 with 1 for real tokens
 * and 0 for padding; `o.window` for sliding-window attention, `o.scale` (default 1/√E).
 */
export function causalAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  keyMask?: Tensor,
  o: AttentionOptions = {},
): Tensor {
  return attentionOp(q, k, v, keyMask, o);
}

export type { AttentionOptions };

/**
 * Per-token NLL (…) of `logits` (…,V) at `labels`, 0 where the label is −100. When the logits are an LM
 * head `h @ Wᵀ`, the fused `lm_token_nll` op computes it without materialising them.
 */
export function tokenNll(logits: Tensor, labels: Tensor): Tensor {
  const t = logits.inputs[1];
  if (
    logits.op === "matmul" && t?.op === "transpose" && t.inputs[0].rank === 2 &&
    (t.attrs.perm as number[]).join() === "1,0"
  ) {
    return lmTokenNll(logits.inputs[0], t.inputs[0], labels);
  }
  return tokenNllOfLogits(logits, labels);
}

/**
 * Cross-entropy of `logits` (…,V) against integer `labels` (…), ignoring label −100.
 * Returns the summed NLL and the number of target tokens; mean = sum / count.
 */
export function crossEntropySum(logits: Tensor, labels: Tensor): { sum: Tensor; count: Tensor } {
  const axes = labels.shape.map((_, i) => i);
  const w = cast(not(equal(labels, constant(-100, [], "int64"))), "float32");
  return { sum: reduceSum(tokenNll(logits, labels), axes), count: reduceSum(w, axes) };
}

/** Mean token cross-entropy with ignore index −100. */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  const { sum, count } = crossEntropySum(logits, labels);
  return div(sum, count);
}
