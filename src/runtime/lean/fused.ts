/**
 * @module The fused ops of `src/graph/fused.ts` on the lean kernels, each one kernel call (sibling
 * backward ops such as attention's dq/dk/dv share one call): norms, activations, RoPE, attention
 * without a B·H·T·T buffer, the LM head fused with cross-entropy over vocabulary chunks, and
 * quantized weights read inside the matmul kernel.
 */
import type { Tensor } from "../../graph/ir.ts";
import { BINARY, DTYPE, UNARY } from "./contract.ts";
import { type AddrEnv, LEAN_OPS, type LeanOp, numelOf, type ShapeEnv } from "./op.ts";
import { matmulCall } from "./primitives.ts";

/** Rows of the LM head computed at a time by the cross-entropy kernels (× 512 vocabulary columns). */
export const CE_CHUNK = 512;

const rowsOf = (x: Tensor, env: ShapeEnv) => {
  const s = env.shape(x);
  return { rows: numelOf(s) / s[s.length - 1], d: s[s.length - 1] };
};
/** The member of a group with op `op`, if present. */
const member = (members: readonly Tensor[], op: string) => members.find((m) => m.op === op);

// ─────────────────────────────── norms ───────────────────────────────

LEAN_OPS.rms_norm = {
  build: (t, e) => {
    const [x, w] = t.inputs,
      { rows, d } = rowsOf(x, e),
      { eps, offset } = t.attrs as { eps: number; offset: number };
    const px = e.addr(x), pw = e.addr(w), out = e.addr(t);
    return () => e.k.rmsNorm(px, pw, out, rows, d, eps, offset);
  },
};
const rmsBackward: LeanOp = {
  group: "rms_norm_bwd",
  build: (t, e, members) => {
    const [g, x, w] = t.inputs,
      { rows, d } = rowsOf(x, e),
      { eps, offset } = t.attrs as { eps: number; offset: number };
    const dx = member(members, "rms_norm_dx"), dw = member(members, "rms_norm_dw");
    const pg = e.addr(g), px = e.addr(x), pw = e.addr(w);
    const pdx = dx ? e.addr(dx) : 0, pdw = dw ? e.addr(dw) : 0;
    return () => e.k.rmsNormBackward(pg, px, pw, pdx, pdw, rows, d, eps, offset, false);
  },
};
LEAN_OPS.rms_norm_dx = rmsBackward;
LEAN_OPS.rms_norm_dw = rmsBackward;

LEAN_OPS.layer_norm = {
  build: (t, e) => {
    const [x, w] = t.inputs, { rows, d } = rowsOf(x, e), eps = t.attrs.eps as number;
    const px = e.addr(x), pw = e.addr(w), out = e.addr(t);
    return () => e.k.layerNorm(px, pw, 0, out, rows, d, eps);
  },
};
const lnBackward: LeanOp = {
  group: "layer_norm_bwd",
  build: (t, e, members) => {
    const [g, x, w] = t.inputs, { rows, d } = rowsOf(x, e), eps = t.attrs.eps as number;
    const dx = member(members, "layer_norm_dx"), dw = member(members, "layer_norm_dw");
    const pg = e.addr(g), px = e.addr(x), pw = e.addr(w);
    const pdx = dx ? e.addr(dx) : 0, pdw = dw ? e.addr(dw) : 0;
    return () => e.k.layerNormBackward(pg, px, pw, pdx, pdw, 0, rows, d, eps, false);
  },
};
LEAN_OPS.layer_norm_dx = lnBackward;
LEAN_OPS.layer_norm_dw = lnBackward;

// ───────────────────────────── activations ─────────────────────────────

const act = (code: number): LeanOp => ({
  inPlace: () => [0],
  build: (t, e) => {
    const x = e.addr(t.inputs[0]), out = e.addr(t), n = numelOf(e.shape(t));
    return () => e.k.unary(code, x, out, n);
  },
});
const actBackward = (code: number): LeanOp => ({
  inPlace: () => [0, 1],
  build: (t, e) => {
    const g = e.addr(t.inputs[0]), x = e.addr(t.inputs[1]), out = e.addr(t), n = numelOf(e.shape(t));
    return () => e.k.unaryBackward(code, g, x, out, n);
  },
});
LEAN_OPS.silu = act(UNARY.SILU);
LEAN_OPS.silu_bwd = actBackward(UNARY.SILU);
LEAN_OPS.gelu_tanh = act(UNARY.GELU_TANH);
LEAN_OPS.gelu_tanh_bwd = actBackward(UNARY.GELU_TANH);

// ──────────────────────────────── RoPE ────────────────────────────────

/** RoPE and its exact transpose: x (B,H,T,E), tables (B,T,E) per batch row or (T,E) shared. */
const ropeKernel = (backward: boolean): LeanOp => ({
  build: (t, e) => {
    const [x, cos, sin] = t.inputs, [B, H, T, E] = e.shape(x), nt = numelOf(e.shape(cos));
    if (numelOf(e.shape(sin)) !== nt) throw new Error("lean: rope tables of different sizes");
    const perBatch = nt === B * T * E;
    if (!perBatch && nt !== T * E) {
      throw new Error(`lean: rope tables [${e.shape(cos)}] for x [${[B, H, T, E]}]`);
    }
    const px = e.addr(x), pc = e.addr(cos), ps = e.addr(sin), out = e.addr(t);
    if (backward) return () => e.k.ropeBackward(px, pc, ps, out, B, H, T, E, perBatch);
    return () => e.k.rope(px, pc, ps, out, B, H, T, E, perBatch);
  },
});
LEAN_OPS.rope = ropeKernel(false);
LEAN_OPS.rope_bwd = ropeKernel(true);

// ────────────────────────────── attention ──────────────────────────────

const attnDims = (q: Tensor, k: Tensor, env: ShapeEnv) => {
  const [b, h, tq, e] = env.shape(q), [, kvh, tk] = env.shape(k);
  return { b, h, kvh, tq, tk, e };
};
LEAN_OPS.attention = {
  aux: (t, env) => {
    const { b, h, tq } = attnDims(t.inputs[0], t.inputs[1], env);
    return 4 * b * h * tq; // row log-sum-exp, read by the backward
  },
  scratch: (t, env) => {
    const d = attnDims(t.inputs[0], t.inputs[1], env);
    return env.k.attentionScratchBytes(d.b, d.h, d.kvh, d.tq, d.tk, d.e);
  },
  build: (t, e) => {
    const [q, k, v, m] = t.inputs, d = attnDims(q, k, e);
    const { scale, window } = t.attrs as { scale: number; window: number };
    const pq = e.addr(q), pk = e.addr(k), pv = e.addr(v), pm = m ? e.addr(m) : 0;
    const out = e.addr(t), lse = e.aux(t), scratch = e.scratch;
    return () =>
      e.k.attention(pq, pk, pv, pm, out, lse, d.b, d.h, d.kvh, d.tq, d.tk, d.e, scale, window, scratch);
  },
};
/** Scratch of the attention backward: the kernel's own plus room for gradients nobody asked for. */
function attnBackwardScratch(t: Tensor, env: ShapeEnv, members: readonly Tensor[]): number {
  const [, q, k] = t.inputs, d = attnDims(q, k, env);
  let bytes = env.k.attentionBackwardScratchBytes(d.b, d.h, d.kvh, d.tq, d.tk, d.e);
  if (!member(members, "attention_dq")) bytes += 4 * numelOf(env.shape(q)) + 64;
  for (const op of ["attention_dk", "attention_dv"]) {
    if (!member(members, op)) bytes += 4 * numelOf(env.shape(k)) + 64;
  }
  return bytes;
}
const attnBackward: LeanOp = {
  group: "attention_bwd",
  scratch: attnBackwardScratch,
  build: (t, e, members) => {
    const [g, q, k, v, out, m] = t.inputs, d = attnDims(q, k, e);
    const { scale, window } = t.attrs as { scale: number; window: number };
    const own = e.k.attentionBackwardScratchBytes(d.b, d.h, d.kvh, d.tq, d.tk, d.e);
    let spare = e.scratch + Math.ceil(own / 64) * 64;
    const dest = (op: string, n: number) => {
      const mt = member(members, op);
      if (mt) return e.addr(mt);
      const p = spare;
      spare += Math.ceil((4 * n) / 64) * 64 + 64;
      return p;
    };
    const dq = dest("attention_dq", numelOf(e.shape(q)));
    const dk = dest("attention_dk", numelOf(e.shape(k))), dv = dest("attention_dv", numelOf(e.shape(k)));
    const pg = e.addr(g), pq = e.addr(q), pk = e.addr(k), pv = e.addr(v), pm = m ? e.addr(m) : 0;
    const po = e.addr(out), lse = e.aux(out), scratch = e.scratch;
    return () =>
      e.k.attentionBackward(
        pg,
        pq,
        pk,
        pv,
        pm,
        po,
        lse,
        dq,
        dk,
        dv,
        d.b,
        d.h,
        d.kvh,
        d.tq,
        d.tk,
        d.e,
        scale,
        window,
        scratch,
      );
  },
};
LEAN_OPS.attention_dq = attnBackward;
LEAN_OPS.attention_dk = attnBackward;
LEAN_OPS.attention_dv = attnBackward;

// ──────────────────────── LM head + cross-entropy ────────────────────────

const headDims = (h: Tensor, w: Tensor, env: ShapeEnv) => {
  const { rows, d } = rowsOf(h, env);
  return { rows, d, v: env.shape(w)[0] };
};
LEAN_OPS.lm_token_nll = {
  // the row log-sum-exp, kept for the backward (which then needs one pass over the vocabulary less)
  aux: (t, env) => 4 * numelOf(env.shape(t)),
  scratch: (t, env) => {
    const { d, v } = headDims(t.inputs[0], t.inputs[1], env);
    if (t.inputs[1].op === "dequantize") return quantHeadScratch(v, d, env);
    return env.k.crossEntropyScratchBytes(CE_CHUNK, v, d);
  },
  build: (t, e) => {
    if (t.inputs[1].op === "dequantize") return quantHead(t, e);
    const [h, w, labels] = t.inputs, { rows, d, v } = headDims(h, w, e);
    const ph = e.addr(h), pw = e.addr(w), pl = e.addr(labels), out = e.addr(t), scratch = e.scratch;
    const lse = e.aux(t);
    return () => e.k.crossEntropyRows(ph, pw, pl, out, rows, d, v, CE_CHUNK, true, scratch, lse);
  },
};
const ceBackward: LeanOp = {
  group: "lm_token_nll_bwd",
  scratch: (t, env) => {
    const { d, v } = headDims(t.inputs[1], t.inputs[2], env);
    if (t.inputs[2].op === "dequantize") return quantHeadScratch(v, d, env);
    return env.k.crossEntropyScratchBytes(CE_CHUNK, v, d);
  },
  build: (t, e, members) => {
    const [g, h, w, labels, fwd] = t.inputs, { rows, d, v } = headDims(h, w, e);
    const dh = member(members, "lm_token_nll_dh"), dw = member(members, "lm_token_nll_dw");
    if (w.op === "dequantize") {
      if (dw) throw new Error("lean: the gradient of a quantized LM head (it is frozen)");
      return quantHead(t, e, dh);
    }
    const pg = e.addr(g), ph = e.addr(h), pw = e.addr(w), pl = e.addr(labels);
    const pdh = dh ? e.addr(dh) : 0, pdw = dw ? e.addr(dw) : 0, scratch = e.scratch;
    const lse = fwd?.op === "lm_token_nll" && fwd.inputs[1].op !== "dequantize" ? e.aux(fwd) : 0;
    return () =>
      e.k.crossEntropyBackward(pg, ph, pw, pl, pdh, pdw, rows, d, v, CE_CHUNK, true, false, scratch, lse);
  },
};
LEAN_OPS.lm_token_nll_dh = ceBackward;
LEAN_OPS.lm_token_nll_dw = ceBackward;

// ─────────────────────────── quantized weights ───────────────────────────

/** A matmul whose right operand is a quantized weight (read by `gemmQ`, never dequantized in full). */
export function quantizedMatmul(t: Tensor, e: AddrEnv): () => void {
  const c = matmulCall(t, e, { bits: 8 }), dq = c.b.base;
  const [q, s, z] = dq.inputs, bits = dq.attrs.bits as number;
  const groupSize = (numelOf(e.shape(q)) * (bits === 4 ? 2 : 1)) / numelOf(e.shape(s));
  const pa = e.addr(c.a.base), pq = e.addr(q), ps = e.addr(s), pz = e.addr(z), out = e.addr(t);
  if (c.a.trans) throw new Error("lean: a quantized matmul with a transposed left operand");
  const scratch = e.scratch;
  return () =>
    e.k.gemmQ(pa, pq, ps, pz, out, 0, c.m, c.n, c.k, bits, groupSize, c.b.trans, 1, false, scratch);
}
LEAN_OPS.dequantize = {
  build: (t) => {
    throw new Error(`lean: ${t} is read by an op other than matmul (quantized weights only feed matmuls)`);
  },
};

/** The matmul entry: a quantized right operand goes to `gemmQ`, everything else to `gemm`. */
const plainMatmul = LEAN_OPS.matmul;
const isQuantized = (t: Tensor, env: ShapeEnv) => env.operand(t.inputs[1]).base.op === "dequantize";
LEAN_OPS.matmul = {
  scratch: (t, env, members) => {
    if (!isQuantized(t, env)) return plainMatmul.scratch!(t, env, members);
    const c = matmulCall(t, env, { bits: 8 });
    return env.k.gemmQScratchBytes(c.m, c.n, c.k, c.b.trans);
  },
  build: (t, e, members) => (isQuantized(t, e) ? quantizedMatmul(t, e) : plainMatmul.build(t, e, members)),
};

// ─────────────────────── LM head over a quantized table ───────────────────────

/** Rows of the quantized head per chunk: a chunk's full-vocabulary logits stay within 4 MiB. */
const qChunk = (v: number) => Math.max(1, Math.min(CE_CHUNK, Math.floor((4 << 20) / (4 * v))));

/** Scratch of the quantized head: a chunk of logits, gemmQ's own, and small per-row vectors. */
function quantHeadScratch(v: number, d: number, env: ShapeEnv): number {
  const pad = (n: number) => Math.ceil(n / 64) * 64, c = qChunk(v);
  return pad(4 * c * v) + pad(env.k.gemmQScratchBytes(c, Math.max(v, d), Math.max(v, d), true)) +
    5 * pad(4 * c);
}

/**
 * The LM head with a frozen, group-quantized W (a tied embedding stored in INT8), as kernel calls per
 * chunk of rows: logits = h·Wᵀ by gemmQ, log-softmax, the label's entry (ignored rows masked to 0); for
 * the backward (`dh` given, t = the backward node with inputs g, h, W, labels) dlogits = g·(softmax −
 * onehot) and dh = dlogits·W by gemmQ. W never exists in f32.
 */
function quantHead(t: Tensor, e: AddrEnv, dh?: Tensor): () => void {
  const backward = t.op !== "lm_token_nll";
  const [h, w, labels] = backward ? t.inputs.slice(1) : t.inputs, g = backward ? t.inputs[0] : undefined;
  const { rows, d, v } = headDims(h, w, e);
  const [q, s, z] = w.inputs, bits = w.attrs.bits as number;
  const groupSize = (numelOf(e.shape(q)) * (bits === 4 ? 2 : 1)) / numelOf(e.shape(s));
  const pq = e.addr(q), ps = e.addr(s), pz = e.addr(z), ph = e.addr(h), pl = e.addr(labels);
  const out = backward ? (dh ? e.addr(dh) : 0) : e.addr(t), pg = g ? e.addr(g) : 0;
  const pad = (n: number) => Math.ceil(n / 64) * 64;
  let at = e.scratch;
  const take = (bytes: number) => (at += pad(bytes)) - pad(bytes);
  const chunk = qChunk(v);
  const logits = take(4 * chunk * v);
  const gemmScratch = take(e.k.gemmQScratchBytes(chunk, Math.max(v, d), Math.max(v, d), true));
  const zero = take(4 * chunk), mask = take(4 * chunk), safe = take(4 * chunk), valid = take(4 * chunk);
  const vec = take(4 * chunk);
  const { k } = e;
  return () => {
    k.fill(zero, DTYPE.I32, chunk, 0);
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const c = Math.min(chunk, rows - r0), lab = pl + 4 * r0;
      // ignored rows (label < 0): a safe label 0 and a 0 weight
      k.binary(BINARY.LESS, DTYPE.I32, lab, zero, mask, [c], [1], [0]);
      k.where(mask, zero, lab, safe, DTYPE.I32, [c], [1], [0], [1]);
      k.not(mask, mask, c);
      k.cast(mask, DTYPE.BOOL, valid, DTYPE.F32, c);
      k.gemmQ(ph + 4 * r0 * d, pq, ps, pz, logits, 0, c, v, d, bits, groupSize, true, 1, false, gemmScratch);
      if (!backward) {
        k.logSoftmax(logits, logits, c, v);
        k.gatherLast(logits, safe, vec, c, v);
        k.binary(BINARY.MUL, DTYPE.F32, vec, valid, vec, [c], [1], [1]);
        k.unary(UNARY.NEG, vec, out + 4 * r0, c);
        continue;
      }
      if (!out) continue;
      k.softmax(logits, logits, c, v);
      k.fill(vec, DTYPE.F32, c, -1);
      k.scatterLast(vec, safe, logits, c, v);
      k.binary(BINARY.MUL, DTYPE.F32, pg + 4 * r0, valid, vec, [c], [1], [1]);
      k.binary(BINARY.MUL, DTYPE.F32, logits, vec, logits, [c, v], [v, 1], [1, 0]);
      k.gemmQ(
        logits,
        pq,
        ps,
        pz,
        out + 4 * r0 * d,
        0,
        c,
        d,
        v,
        bits,
        groupSize,
        false,
        1,
        false,
        gemmScratch,
      );
    }
  };
}

/** An embedding lookup in a quantized table: the rows dequantized by the gather itself. */
const plainGather = LEAN_OPS.gather_rows;
LEAN_OPS.gather_rows = {
  build: (t, e, members) => {
    const [table, ids] = t.inputs;
    if (table.op !== "dequantize") return plainGather.build(t, e, members);
    const [q, s, z] = table.inputs, bits = table.attrs.bits as number, ts = e.shape(table);
    const groupSize = (numelOf(e.shape(q)) * (bits === 4 ? 2 : 1)) / numelOf(e.shape(s));
    const rowLen = numelOf(ts.slice(1)), nIds = numelOf(e.shape(ids));
    const pq = e.addr(q), ps = e.addr(s), pz = e.addr(z), pi = e.addr(ids), out = e.addr(t);
    return () => e.k.gatherRowsQ(pq, ps, pz, pi, out, nIds, rowLen, ts[0], bits, groupSize);
  },
};
