/**
 * @module Composite layers built from the primitive ops of `ops.ts`; their gradients follow from
 * the primitives' VJPs (and onnxruntime's optimizer re-fuses the LayerNorm / GELU patterns).
 * Legend: B batch, T sequence, D model width, H heads, K key/value heads, E head dim, V vocab.
 */
import type { Tensor } from "./ir.ts";
import {
  add,
  and,
  cast,
  causalMask,
  concat,
  constant,
  cos,
  div,
  equal,
  expand,
  gatherLast,
  less,
  logSoftmax,
  matmul,
  mul,
  neg,
  not,
  reduceMean,
  reduceSum,
  reshape,
  rsqrt,
  sigmoid,
  sin,
  slice,
  softmax,
  sub,
  tanh,
  transpose,
  transposeLast,
  unsqueeze,
  where,
} from "./ops.ts";

/** x (…,D) @ w (D,N) + b: a linear layer with weight stored [in, out]. */
export function linear(x: Tensor, w: Tensor, b?: Tensor): Tensor {
  const y = matmul(x, w);
  return b ? add(y, b) : y;
}

/** LayerNorm over the last axis: (x − μ)/√(σ² + ε)·γ + β. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor | undefined, eps = 1e-5): Tensor {
  const xc = sub(x, reduceMean(x, [-1], true));
  const y = mul(mul(xc, rsqrt(add(reduceMean(mul(xc, xc), [-1], true), eps))), gamma);
  return beta ? add(y, beta) : y;
}

/** RMSNorm over the last axis (LLaMA): x/√(mean(x²) + ε)·(γ + offset); Gemma stores γ − 1 (offset 1). */
export function rmsNorm(x: Tensor, gamma: Tensor, eps = 1e-6, offset = 0): Tensor {
  return mul(mul(x, rsqrt(add(reduceMean(mul(x, x), [-1], true), eps))), offset ? add(gamma, offset) : gamma);
}

/** GELU, tanh approximation (GPT-2 `gelu_new`): ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluTanh(x: Tensor): Tensor {
  const inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return mul(mul(x, 0.5), add(tanh(inner), 1));
}

/** SiLU: x·σ(x). */
export function silu(x: Tensor): Tensor {
  return mul(x, sigmoid(x));
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

/** rotate_half(x) = concat(−x₂, x₁) on the last axis. */
export function rotateHalf(x: Tensor): Tensor {
  const e = x.dim(-1) as number;
  return concat([neg(slice(x, -1, e / 2, e)), slice(x, -1, 0, e / 2)], -1);
}

/**
 * Apply RoPE to q or k (B,H,T,E) with tables from {@link ropeTables}. Tables narrower than E
 * rotate the first dims only and pass the rest through (partial rotary, HF Phi-3).
 */
export function applyRope(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const e = x.dim(-1) as number, r = cos.dim(-1) as number;
  if (r === e) return add(mul(x, cos), mul(rotateHalf(x), sin));
  const rot = slice(x, -1, 0, r);
  return concat([add(mul(rot, cos), mul(rotateHalf(rot), sin)), slice(x, -1, r, e)], -1);
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

/** Repeat K key/value heads (B,K,T,E) to H = K·rep heads (GQA), as HF `repeat_kv`. */
export function repeatKv(x: Tensor, rep: number): Tensor {
  if (rep === 1) return x;
  const k = x.dim(1) as number, e = x.dim(3) as number;
  const x5 = unsqueeze(x, [2]); // (B,K,1,T,E)
  return reshape(expand(x5, [1, 1, rep, 1, 1]), [0, k * rep, -1, e]);
}

/** Options of {@link causalAttention}. */
export interface AttentionOptions {
  /** Sliding window: query i sees keys j with i − window < j ≤ i (HF `sliding_window`). */
  window?: number;
  /** Score scale (default 1/√E; Gemma 3: query_pre_attn_scalar^−½). */
  scale?: number;
}

/**
 * Causal scaled dot-product attention. q (B,H,Tq,E), k/v (B,H,Tk,E); `keyMask` (B,Tk) int64
 * with 1 for real tokens and 0 for padding. Masked scores are set to −1e9 (finite, so rows of
 * padding stay NaN-free). Positions are indices into the key axis (a KV cache of Tk − Tq entries
 * precedes the queries), as HF's `cache_position`.
 */
export function causalAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  keyMask?: Tensor,
  opts: AttentionOptions = {},
): Tensor {
  const e = q.dim(-1) as number;
  let allowed = causalMask(q, k); // (Tq,Tk)
  if (opts.window !== undefined) allowed = and(allowed, slidingWindowMask(q, k, opts.window));
  if (keyMask) allowed = and(allowed, unsqueeze(not(equal(keyMask, 0)), [1, 2]));
  const scores = mul(matmul(q, transposeLast(k)), opts.scale ?? 1 / Math.sqrt(e));
  return matmul(softmax(where(allowed, scores, -1e9), -1), v);
}

/**
 * (Tq,Tk) bool: key j lies less than `window` positions before query i (HF `sliding_window_overlay`:
 * kv_idx > q_idx − window). Indices come from row counts of causal masks, so no new op is needed.
 *
 * @example
 * ```ts ignore
 * const allowed = and(causalMask(q, k), slidingWindowMask(q, k, 4096)); // Mistral's attention pattern
 * ```
 */
export function slidingWindowMask(q: Tensor, k: Tensor, window: number): Tensor {
  const idx = (m: Tensor) => sub(reduceSum(cast(m, "float32"), [-1]), 1); // row i of a causal mask has i+1 trues
  const qi = unsqueeze(idx(causalMask(q, k)), [-1]); // (Tq,1) absolute query positions
  const kj = unsqueeze(idx(causalMask(k, k)), [0]); // (1,Tk)
  return less(sub(qi, kj), window);
}

/**
 * Cross-entropy of `logits` (…,V) against integer `labels` (…), ignoring label −100.
 * Returns the summed NLL and the number of target tokens; mean = sum / count.
 */
export function crossEntropySum(logits: Tensor, labels: Tensor): { sum: Tensor; count: Tensor } {
  const valid = not(equal(labels, constant(-100, [], "int64")));
  const safe = where(valid, labels, constant(0, [], "int64"));
  const nll = neg(gatherLast(logSoftmax(logits, -1), safe));
  const w = cast(valid, "float32");
  const axes = labels.shape.map((_, i) => i);
  return { sum: reduceSum(mul(nll, w), axes), count: reduceSum(w, axes) };
}

/** Mean token cross-entropy with ignore index −100. */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  const { sum, count } = crossEntropySum(logits, labels);
  return div(sum, count);
}
