/**
 * @module Fused ops: transformer layers as single IR ops, each defined by its decomposition into the
 * primitive ops of `ops.ts`. The decomposition is the op's meaning: onnxruntime backends lower it,
 * and an op without a hand-written VJP is differentiated through it (so double backward works
 * everywhere). The `lean` backend runs each fused op as one kernel — e.g. attention without a B·H·T·T
 * buffer, and the LM head fused with cross-entropy so the [B,T,V] logits never exist. Backward ops
 * (`*_dx`, `*_dw`, …) are fused ops too, defined as the VJP of the forward decomposition.
 * Legend: B batch, T sequence, D width, H heads, K key/value heads, E head dim, V vocab.
 */
import type { Attrs, Dim, DType, Tensor } from "./ir.ts";
import { ancestors, grad } from "./autodiff.ts";
import { substitute } from "./rewrite.ts";
import {
  add,
  and,
  apply,
  cast,
  causalMask,
  concat,
  constant,
  div,
  equal,
  expand,
  gatherLast,
  input,
  logSoftmax,
  matmul,
  mul,
  neg,
  not,
  OPS,
  reduceMean,
  reshape,
  rsqrt,
  sigmoid,
  slice,
  softmax,
  sub,
  tanh,
  transposeLast,
  unsqueeze,
  where,
} from "./ops.ts";
import type { Emitter } from "./ops.ts";

/** A fused op: shape rule, decomposition into primitives, optional hand-written VJP. */
interface FusedDef {
  infer(inputs: readonly Tensor[], attrs: Attrs): { dtype: DType; shape: Dim[] };
  decompose(inputs: readonly Tensor[], attrs: Attrs): Tensor;
  vjp?(g: Tensor, t: Tensor): (Tensor | undefined)[];
}

/** Names of the fused ops (the lean backend runs each as one kernel). */
export const FUSED_OPS: Set<string> = new Set();

function defineFused(name: string, def: FusedDef): void {
  FUSED_OPS.add(name);
  OPS[name] = {
    infer: def.infer,
    lower: (e, t, ins) => lowerDecomposition(e, t, ins, def.decompose),
    vjp: def.vjp ?? ((g, t) => vjpOfDecomposition(def.decompose, g, t)),
  };
}

/**
 * The VJP of a fused node through its decomposition. Built over placeholder inputs and then bound to
 * the real ones, so each input is an independent variable even where one is computed from another (a
 * backward op's cotangent input depends on the same weights as its primal input).
 */
function vjpOfDecomposition(
  build: FusedDef["decompose"],
  g: Tensor,
  t: { inputs: readonly Tensor[]; attrs: Attrs },
): (Tensor | undefined)[] {
  const args = t.inputs.map((x, i) => input(`#vjp${i}`, x.dtype, [...x.shape]));
  const gs = grad(build(args, t.attrs), args, g);
  const bind = new Map(args.map((a, i) => [a, t.inputs[i]]));
  return gs.map((x) => (x ? substitute([x], bind)[0] : undefined));
}

/** The decomposition of a fused node over its own inputs (what its value means). */
export function decompose(t: Tensor): Tensor {
  const def = FUSED[t.op];
  if (!def) throw new Error(`${t.op} is not a fused op`);
  return def.decompose(t.inputs, t.attrs);
}

/** Lower a fused node by lowering its decomposition over placeholder inputs bound to `ins`. */
function lowerDecomposition(
  e: Emitter,
  t: Tensor,
  ins: string[],
  build: FusedDef["decompose"],
): string {
  const args = t.inputs.map((x, i) => input(`#arg${i}`, x.dtype, [...x.shape]));
  const out = build(args, t.attrs);
  const names = new Map<Tensor, string>(args.map((a, i) => [a, ins[i]]));
  const order = [...ancestors([out])].sort((a, b) => a.id - b.id);
  for (const n of order) {
    if (names.has(n)) continue;
    if (n.op === "input") throw new Error(`decomposition of ${t.op} reads an unbound input ${n.inputName}`);
    names.set(
      n,
      n.op === "const" ? e.constant(n) : OPS[n.op].lower(e, n, n.inputs.map((i) => names.get(i)!)),
    );
  }
  return names.get(out)!;
}

const FUSED: Record<string, FusedDef> = {};
function fused(name: string, def: FusedDef): void {
  FUSED[name] = def;
  defineFused(name, def);
}
const like = (i: number) => (ins: readonly Tensor[]) => ({ dtype: ins[i].dtype, shape: [...ins[i].shape] });
/** The VJP of `forward`'s decomposition w.r.t. its input `wrt`, given cotangent g (a backward op's meaning). */
const vjpOf = (forward: string, wrt: number) => (ins: readonly Tensor[], a: Attrs): Tensor => {
  const [g, ...xs] = ins;
  const r = vjpOfDecomposition(FUSED[forward].decompose, g, { inputs: xs, attrs: a })[wrt];
  if (!r) throw new Error(`${forward}: no gradient reaches input ${wrt}`);
  return r;
};

// ─────────────────────────────── norms ───────────────────────────────

/** RMSNorm over the last axis: x/√(mean(x²) + ε)·(w + offset) (offset 1: Gemma's (1 + w)). */
export const rmsNormOp = (x: Tensor, w: Tensor, eps: number, offset = 0): Tensor =>
  apply("rms_norm", [x, w], { eps, offset });
fused("rms_norm", {
  infer: like(0),
  decompose: ([x, w], a) => {
    const gain = a.offset ? add(w, a.offset as number) : w;
    return mul(mul(x, rsqrt(add(reduceMean(mul(x, x), [-1], true), a.eps as number))), gain);
  },
  vjp: (
    g,
    t,
  ) => [apply("rms_norm_dx", [g, ...t.inputs], t.attrs), apply("rms_norm_dw", [g, ...t.inputs], t.attrs)],
});
fused("rms_norm_dx", { infer: like(1), decompose: vjpOf("rms_norm", 0) });
fused("rms_norm_dw", { infer: like(2), decompose: vjpOf("rms_norm", 1) });

/** LayerNorm over the last axis: (x − μ)/√(σ² + ε)·w (+ b). */
export const layerNormOp = (x: Tensor, w: Tensor, b: Tensor | undefined, eps: number): Tensor =>
  b ? add(apply("layer_norm", [x, w], { eps }), b) : apply("layer_norm", [x, w], { eps });
fused("layer_norm", {
  infer: like(0),
  decompose: ([x, w], a) => {
    const xc = sub(x, reduceMean(x, [-1], true));
    return mul(mul(xc, rsqrt(add(reduceMean(mul(xc, xc), [-1], true), a.eps as number))), w);
  },
  vjp: (g, t) => [
    apply("layer_norm_dx", [g, ...t.inputs], t.attrs),
    apply("layer_norm_dw", [g, ...t.inputs], t.attrs),
  ],
});
fused("layer_norm_dx", { infer: like(1), decompose: vjpOf("layer_norm", 0) });
fused("layer_norm_dw", { infer: like(2), decompose: vjpOf("layer_norm", 1) });

// ───────────────────────────── activations ─────────────────────────────

/** SiLU: x·σ(x). */
export const siluOp = (x: Tensor): Tensor => apply("silu", [x]);
fused("silu", {
  infer: like(0),
  decompose: ([x]) => mul(x, sigmoid(x)),
  vjp: (g, t) => [apply("silu_bwd", [g, t.inputs[0]])],
});
fused("silu_bwd", { infer: like(1), decompose: vjpOf("silu", 0) });

/** GELU, tanh approximation (GPT-2 `gelu_new`, Gemma `gelu_pytorch_tanh`). */
export const geluTanhOp = (x: Tensor): Tensor => apply("gelu_tanh", [x]);
fused("gelu_tanh", {
  infer: like(0),
  decompose: ([x]) => {
    const inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  },
  vjp: (g, t) => [apply("gelu_tanh_bwd", [g, t.inputs[0]])],
});
fused("gelu_tanh_bwd", { infer: like(1), decompose: vjpOf("gelu_tanh", 0) });

// ──────────────────────────────── RoPE ────────────────────────────────

/**
 * Rotate-half RoPE of x (B,H,T,E) with cos/sin tables broadcastable to it: x·cos + rotate_half(x)·sin,
 * rotate_half(x) = (−x₂, x₁). Its VJP is `rope_bwd`: g·cos + rotate_halfᵀ(g·sin), rotate_halfᵀ(u) = (u₂, −u₁).
 */
export const ropeOp = (x: Tensor, cos: Tensor, sin: Tensor): Tensor => apply("rope", [x, cos, sin]);
fused("rope", {
  infer: like(0),
  decompose: ([x, cos, sin]) => {
    const e = x.dim(-1) as number;
    const rot = concat([neg(slice(x, -1, e / 2, e)), slice(x, -1, 0, e / 2)], -1);
    return add(mul(x, cos), mul(rot, sin));
  },
  vjp: (g, t) => [apply("rope_bwd", [g, t.inputs[1], t.inputs[2]]), undefined, undefined],
});
fused("rope_bwd", {
  infer: like(0),
  decompose: ([g, cos, sin]) => {
    const e = g.dim(-1) as number, u = mul(g, sin);
    return add(mul(g, cos), concat([slice(u, -1, e / 2, e), neg(slice(u, -1, 0, e / 2))], -1));
  },
});

// ────────────────────────────── attention ──────────────────────────────

/** Options of {@link attentionOp}. */
export interface AttentionOptions {
  /** Score scale (default 1/√E). */
  scale?: number;
  /** Sliding window: a query attends only the `window` latest positions (0: all). */
  window?: number;
}

/**
 * Causal scaled dot-product attention with grouped KV heads: q (B,H,Tq,E), k/v (B,K,Tk,E) with H a
 * multiple of K (query head i reads kv head ⌊i·K/H⌋), optional `keyMask` (B,Tk) int64 (0 = padding).
 * Masked scores are −1e9 (finite: rows of padding stay NaN-free). → (B,H,Tq,E).
 */
export function attentionOp(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  keyMask?: Tensor,
  o: AttentionOptions = {},
): Tensor {
  const scale = o.scale ?? 1 / Math.sqrt(q.dim(-1) as number);
  return apply("attention", keyMask ? [q, k, v, keyMask] : [q, k, v], { scale, window: o.window ?? 0 });
}
/** Repeat K kv heads (B,K,T,E) to H = K·rep heads, as HF `repeat_kv`. */
export function repeatKv(x: Tensor, rep: number): Tensor {
  if (rep === 1) return x;
  const k = x.dim(1) as number, e = x.dim(3) as number;
  return reshape(expand(unsqueeze(x, [2]), [1, 1, rep, 1, 1]), [0, k * rep, -1, e]);
}
function attentionDecomposition([q, k, v, keyMask]: readonly Tensor[], a: Attrs): Tensor {
  const rep = (q.dim(1) as number) / (k.dim(1) as number);
  let allowed = causalMask(q, k, -2, a.window as number); // (Tq,Tk)
  if (keyMask) allowed = and(allowed, unsqueeze(not(equal(keyMask, 0)), [1, 2]));
  const scores = mul(matmul(q, transposeLast(repeatKv(k, rep))), a.scale as number);
  return matmul(softmax(where(allowed, scores, -1e9), -1), repeatKv(v, rep));
}
fused("attention", {
  infer: like(0),
  decompose: attentionDecomposition,
  // backward ops read the forward output too (a kernel recomputes the probabilities from it and q, k, v)
  vjp: (g, t) => {
    const [q, k, v, m] = t.inputs;
    const ins = m ? [g, q, k, v, t, m] : [g, q, k, v, t];
    return [
      apply("attention_dq", ins, t.attrs),
      apply("attention_dk", ins, t.attrs),
      apply("attention_dv", ins, t.attrs),
      undefined,
    ];
  },
});
/** Backward ops of attention: inputs (g, q, k, v, out, mask?); `out` only feeds fast kernels. */
const attentionGrad = (wrt: number) => (ins: readonly Tensor[], a: Attrs): Tensor => {
  const [g, q, k, v, , m] = ins;
  const xs = m ? [q, k, v, m] : [q, k, v];
  const r = vjpOfDecomposition(attentionDecomposition, g, { inputs: xs, attrs: a })[wrt];
  if (!r) throw new Error(`attention: no gradient reaches input ${wrt}`);
  return r;
};
fused("attention_dq", { infer: like(1), decompose: attentionGrad(0) });
fused("attention_dk", { infer: like(2), decompose: attentionGrad(1) });
fused("attention_dv", { infer: like(3), decompose: attentionGrad(2) });

// ──────────────────────── LM head + cross-entropy ────────────────────────

/**
 * Per-token NLL of the LM head: logits = h (…,D) · Wᵀ (W [V, D]), nll = logsumexp(logits) −
 * logits[label], 0 where label = −100. → (…) like the labels. Fused, the logits never exist in full.
 */
export const lmTokenNll = (h: Tensor, w: Tensor, labels: Tensor): Tensor =>
  apply("lm_token_nll", [h, w, labels]);
fused("lm_token_nll", {
  infer: ([h, , labels]) => ({ dtype: h.dtype, shape: [...labels.shape] }),
  decompose: ([h, w, labels]) => tokenNllOfLogits(matmul(h, transposeLast(w)), labels),
  // backward ops read the forward node too: a kernel reuses the log-sum-exp it kept (decompositions ignore it)
  vjp: (g, t) => [
    apply("lm_token_nll_dh", [g, ...t.inputs, t]),
    apply("lm_token_nll_dw", [g, ...t.inputs, t]),
    undefined,
  ],
});
fused("lm_token_nll_dh", { infer: like(1), decompose: vjpOf("lm_token_nll", 0) });
fused("lm_token_nll_dw", { infer: like(2), decompose: vjpOf("lm_token_nll", 1) });

/** Per-token NLL of `logits` (…,V) at integer `labels` (…), 0 where the label is −100. */
export function tokenNllOfLogits(logits: Tensor, labels: Tensor): Tensor {
  const valid = not(equal(labels, constant(-100, [], "int64")));
  const safe = where(valid, labels, constant(0, [], "int64"));
  return mul(neg(gatherLast(logSoftmax(logits, -1), safe)), cast(valid, "float32"));
}

// ─────────────────────────── quantized weights ───────────────────────────

/**
 * A group-quantized weight as a float tensor of `shape`: codes q (uint8: INT8 one per element padded to
 * whole groups, or INT4 two per byte, element 2j in the low nibble of byte j), per-group scale s (f32)
 * and zero point z (uint8): W = reshape(((q − z)·s)[:numel]). The lean backend reads the codes inside its
 * matmul kernel instead of materialising W.
 */
export const dequantizeOp = (q: Tensor, s: Tensor, z: Tensor, shape: number[], bits: 4 | 8): Tensor =>
  apply("dequantize", [q, s, z], { shape, bits });
fused("dequantize", {
  infer: (_i, a) => ({ dtype: "float32", shape: [...a.shape as number[]] }),
  decompose: ([q, s, z], a) => {
    const shape = a.shape as number[], groups = s.dim(0) as number;
    let codes = cast(q, "float32");
    if (a.bits === 4) {
      // unpack nibbles: hi = ⌊q/16⌋ (a cast truncates, q ≥ 0), lo = q − 16·hi, interleaved lo, hi
      const hi = cast(cast(div(codes, 16), "int64"), "float32"), lo = sub(codes, mul(hi, 16));
      codes = reshape(concat([unsqueeze(lo, [-1]), unsqueeze(hi, [-1])], -1), [-1]);
    }
    const total = (q.dim(0) as number) * (a.bits === 4 ? 2 : 1);
    const numel = shape.reduce((x, y) => x * y, 1), groupSize = total / groups;
    const grouped = reshape(codes, [groups, groupSize]);
    const flat = reshape(mul(sub(grouped, unsqueeze(cast(z, "float32"), [1])), unsqueeze(s, [1])), [total]);
    return reshape(numel === total ? flat : slice(flat, 0, 0, numel), shape);
  },
  vjp: () => [undefined, undefined, undefined],
});

/** Whether `t` is a node of a fused op. */
export const isFused = (t: Tensor): boolean => FUSED_OPS.has(t.op);
