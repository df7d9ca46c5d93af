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

/** RMSNorm over the last axis (LLaMA): x/√(mean(x²) + ε)·γ. */
export function rmsNorm(x: Tensor, gamma: Tensor, eps = 1e-6): Tensor {
  return mul(mul(x, rsqrt(add(reduceMean(mul(x, x), [-1], true), eps))), gamma);
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
  const half = headDim / 2;
  const invFreq = Float32Array.from({ length: half }, (_, i) => 1 / Math.pow(theta, (2 * i) / headDim));
  const pos = unsqueeze(cast(positions, "float32"), [-1]); // (B,T,1)
  const freqs = mul(pos, constant(invFreq, [half])); // (B,T,E/2)
  const emb = unsqueeze(concat([freqs, freqs], -1), [1]); // (B,1,T,E)
  return { cos: cos(emb), sin: sin(emb) };
}

/** rotate_half(x) = concat(−x₂, x₁) on the last axis. */
export function rotateHalf(x: Tensor): Tensor {
  const e = x.dim(-1) as number;
  return concat([neg(slice(x, -1, e / 2, e)), slice(x, -1, 0, e / 2)], -1);
}

/** Apply RoPE to q or k (B,H,T,E) with tables from {@link ropeTables}. */
export function applyRope(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  return add(mul(x, cos), mul(rotateHalf(x), sin));
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

/**
 * Causal scaled dot-product attention. q (B,H,Tq,E), k/v (B,H,Tk,E); `keyMask` (B,Tk) int64
 * with 1 for real tokens and 0 for padding. Masked scores are set to −1e9 (finite, so rows of
 * padding stay NaN-free).
 */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, keyMask?: Tensor): Tensor {
  const e = q.dim(-1) as number;
  let allowed = causalMask(q, k); // (Tq,Tk)
  if (keyMask) allowed = and(allowed, unsqueeze(not(equal(keyMask, 0)), [1, 2]));
  const scores = mul(matmul(q, transposeLast(k)), 1 / Math.sqrt(e));
  return matmul(softmax(where(allowed, scores, -1e9), -1), v);
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
