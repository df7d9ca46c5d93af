/**
 * @module Readable references of the lean backend's fused kernels (used by reference.ts): RMSNorm,
 * LayerNorm and RoPE with their backwards, attention and the LM-head cross-entropy, in f64.
 * Attention is the IR's formula row by row:
 *   s_j = allowed(i, j) ? scale·q_i·k_j : −1e9,  p = softmax(s),  out_i = Σ_j p_j v_j
 * allowed(i, j): j ≤ P_i = tk − tq + i, j > P_i − window (window > 0), mask[b, j] ≠ 0.
 * Backward: dv_j += p_j·dout_i, ds_j = p_j(dout_i·v_j − Σ_l p_l dout_i·v_l), and only allowed
 * scores pass ds on (the IR's `where`): dq_i += scale·ds_j·k_j, dk_j += scale·ds_j·q_i.
 */
import { badIndex } from "./contract.ts";

/** Typed views over one buffer (indices: byte offset / 4 for f32 and i32). */
export interface Mem {
  f32: Float32Array;
  i32: Int32Array;
  u8: Uint8Array;
}

/** Attention pointers and dims (see LeanKernels.attention). */
export interface AttentionArgs {
  q: number;
  k: number;
  v: number;
  mask: number;
  b: number;
  h: number;
  kvh: number;
  tq: number;
  tk: number;
  e: number;
  scale: number;
  window: number;
}

/** Probabilities of query row (bi, hi, i) over the tk keys, plus its log-sum-exp and allowed flags. */
function probs(m: Mem, a: AttentionArgs, bi: number, hi: number, i: number) {
  const { e, tq, tk } = a, g = Math.floor(hi / (a.h / a.kvh));
  const qrow = a.q / 4 + ((bi * a.h + hi) * tq + i) * e, pos = tk - tq + i;
  const allowed: boolean[] = [], s: number[] = [];
  for (let j = 0; j < tk; j++) {
    const ok = j <= pos && (a.window <= 0 || j > pos - a.window) &&
      (a.mask === 0 || m.i32[a.mask / 4 + bi * tk + j] !== 0);
    let dot = 0;
    for (let c = 0; c < e; c++) dot += m.f32[qrow + c] * m.f32[a.k / 4 + ((bi * a.kvh + g) * tk + j) * e + c];
    allowed.push(ok);
    s.push(ok ? a.scale * dot : -1e9);
  }
  const mx = s.reduce((x, y) => Math.max(x, y), -Infinity);
  const sum = s.reduce((acc, x) => acc + Math.exp(x - mx), 0);
  return { p: s.map((x) => Math.exp(x - mx) / sum), lse: mx + Math.log(sum), allowed, g, qrow };
}

/** out (B,H,Tq,E) and lse (B,H,Tq). */
export function attentionRef(m: Mem, a: AttentionArgs & { out: number; lse: number }): void {
  const { e, tq, tk } = a;
  for (let bi = 0; bi < a.b; bi++) {
    for (let hi = 0; hi < a.h; hi++) {
      for (let i = 0; i < tq; i++) {
        const { p, lse, g } = probs(m, a, bi, hi, i);
        const orow = a.out / 4 + ((bi * a.h + hi) * tq + i) * e;
        for (let c = 0; c < e; c++) {
          let acc = 0;
          for (let j = 0; j < tk; j++) acc += p[j] * m.f32[a.v / 4 + ((bi * a.kvh + g) * tk + j) * e + c];
          m.f32[orow + c] = acc;
        }
        m.f32[a.lse / 4 + (bi * a.h + hi) * tq + i] = lse;
      }
    }
  }
}

/** dq (B,H,Tq,E), dk/dv (B,KVH,Tk,E), overwritten. */
export function attentionBackwardRef(
  m: Mem,
  a: AttentionArgs & { dout: number; dq: number; dk: number; dv: number },
): void {
  const { e, tq, tk, f32 } = { ...a, f32: m.f32 };
  f32.fill(0, a.dk / 4, a.dk / 4 + a.b * a.kvh * tk * e);
  f32.fill(0, a.dv / 4, a.dv / 4 + a.b * a.kvh * tk * e);
  for (let bi = 0; bi < a.b; bi++) {
    for (let hi = 0; hi < a.h; hi++) {
      for (let i = 0; i < tq; i++) {
        const { p, allowed, g, qrow } = probs(m, a, bi, hi, i);
        const drow = a.dout / 4 + ((bi * a.h + hi) * tq + i) * e, kv = (bi * a.kvh + g) * tk;
        const dp = p.map((_, j) => {
          let s = 0;
          for (let c = 0; c < e; c++) s += f32[drow + c] * f32[a.v / 4 + (kv + j) * e + c];
          return s;
        });
        const pdp = p.reduce((s, pj, j) => s + pj * dp[j], 0);
        const dq = new Float64Array(e);
        for (let j = 0; j < tk; j++) {
          for (let c = 0; c < e; c++) f32[a.dv / 4 + (kv + j) * e + c] += p[j] * f32[drow + c];
          if (!allowed[j]) continue;
          const ds = p[j] * (dp[j] - pdp) * a.scale;
          for (let c = 0; c < e; c++) {
            dq[c] += ds * f32[a.k / 4 + (kv + j) * e + c];
            f32[a.dk / 4 + (kv + j) * e + c] += ds * f32[qrow + c];
          }
        }
        f32.set(dq, a.dq / 4 + ((bi * a.h + hi) * tq + i) * e);
      }
    }
  }
}

/** Cross-entropy arguments; lossOut / nllOut select the forward, g (per-row cotangents) the backward. */
export interface CrossEntropyArgs {
  h: number;
  w: number;
  labels: number;
  rows: number;
  d: number;
  v: number;
  transW: boolean;
  lossOut?: number;
  nllOut?: number;
  lseOut?: number;
  g?: number;
  dh?: number;
  dw?: number;
  accumulateDw?: boolean;
}

/** logits = h·Wᵀ row by row; loss / per-row NLL, or dh / dw of Σ_r g_r·NLL_r. */
export function crossEntropyRef(m: Mem, a: CrossEntropyArgs): void {
  const { f32, i32 } = m, { d, v } = a;
  const wAt = (j: number, c: number) => f32[a.w / 4 + (a.transW ? j * d + c : c * v + j)];
  const wIdx = (j: number, c: number) => a.w / 4 + (a.transW ? j * d + c : c * v + j);
  for (let r = 0; r < a.rows; r++) {
    const y = i32[a.labels / 4 + r];
    if (y >= v) badIndex("crossEntropy label", r + 1, y, v);
  }
  const backward = a.g !== undefined;
  if (backward && a.dw && !a.accumulateDw) f32.fill(0, a.dw / 4, a.dw / 4 + v * d);
  let total = 0;
  for (let r = 0; r < a.rows; r++) {
    const y = i32[a.labels / 4 + r], hrow = a.h / 4 + r * d;
    const logits = Array.from({ length: v }, (_, j) => {
      let s = 0;
      for (let c = 0; c < d; c++) s += f32[hrow + c] * wAt(j, c);
      return s;
    });
    const mx = logits.reduce((x, z) => Math.max(x, z), -Infinity);
    const lse = mx + Math.log(logits.reduce((s, z) => s + Math.exp(z - mx), 0));
    const nll = y < 0 ? 0 : lse - logits[y];
    total += nll;
    if (a.nllOut) f32[a.nllOut / 4 + r] = nll;
    if (a.lseOut) f32[a.lseOut / 4 + r] = lse;
    if (!backward) continue;
    const dh = new Float64Array(d);
    for (let j = 0; j < v && y >= 0; j++) {
      const dl = f32[a.g! / 4 + r] * (Math.exp(logits[j] - lse) - (j === y ? 1 : 0));
      for (let c = 0; c < d; c++) {
        dh[c] += dl * wAt(j, c);
        if (a.dw) f32[a.dw / 4 + (wIdx(j, c) - a.w / 4)] += dl * f32[hrow + c];
      }
    }
    if (a.dh) f32.set(dh, a.dh / 4 + r * d);
  }
  if (a.lossOut) f32[a.lossOut / 4] = total;
}

/** Rows of `d` starting at float index p, as f64 arrays. */
const rowsOf = (f32: Float32Array, p: number, r: number, d: number) =>
  Array.from(f32.subarray(p / 4 + r * d, p / 4 + (r + 1) * d));

/** y = x/√(mean(x²) + eps)·(w + offset). */
export function rmsNormRef(
  m: Mem,
  a: { x: number; w: number; out: number; rows: number; d: number; eps: number; offset: number },
): void {
  const { f32 } = m, { d } = a;
  for (let r = 0; r < a.rows; r++) {
    const xr = rowsOf(f32, a.x, r, d), inv = 1 / Math.sqrt(xr.reduce((s, v) => s + v * v, 0) / d + a.eps);
    xr.forEach((v, j) => f32[a.out / 4 + r * d + j] = v * inv * (f32[a.w / 4 + j] + a.offset));
  }
}

/** x̂ = x·inv, y = x̂·w′: dx = inv·(g·w′ − x̂·mean(g·w′·x̂)), dw (+)= Σ_rows g·x̂. */
export function rmsNormBackwardRef(
  m: Mem,
  a: {
    g: number;
    x: number;
    w: number;
    dx: number;
    dw: number;
    rows: number;
    d: number;
    eps: number;
    offset: number;
    accumulateDw: boolean;
  },
): void {
  const { f32 } = m, { d } = a;
  if (a.dw && !a.accumulateDw) f32.fill(0, a.dw / 4, a.dw / 4 + d);
  for (let r = 0; r < a.rows; r++) {
    const xr = rowsOf(f32, a.x, r, d), gr = rowsOf(f32, a.g, r, d);
    const inv = 1 / Math.sqrt(xr.reduce((s, v) => s + v * v, 0) / d + a.eps);
    const wv = (j: number) => f32[a.w / 4 + j] + a.offset;
    const mean = xr.reduce((s, v, j) => s + gr[j] * wv(j) * v * inv, 0) / d;
    for (let j = 0; j < d; j++) {
      if (a.dw) f32[a.dw / 4 + j] += gr[j] * xr[j] * inv;
      if (a.dx) f32[a.dx / 4 + r * d + j] = inv * (gr[j] * wv(j) - xr[j] * inv * mean);
    }
  }
}

/** y = (x − μ)/√(σ² + eps)·w [+ b]. */
export function layerNormRef(
  m: Mem,
  a: { x: number; w: number; b: number; out: number; rows: number; d: number; eps: number },
): void {
  const { f32 } = m, { d } = a;
  for (let r = 0; r < a.rows; r++) {
    const xr = rowsOf(f32, a.x, r, d), mu = xr.reduce((s, v) => s + v, 0) / d;
    const inv = 1 / Math.sqrt(xr.reduce((s, v) => s + (v - mu) ** 2, 0) / d + a.eps);
    xr.forEach((v, j) =>
      f32[a.out / 4 + r * d + j] = (v - mu) * inv * f32[a.w / 4 + j] + (a.b ? f32[a.b / 4 + j] : 0)
    );
  }
}

/** dx = inv·(g·w − mean(g·w) − x̂·mean(g·w·x̂)), dw (+)= Σ g·x̂, db (+)= Σ g. */
export function layerNormBackwardRef(
  m: Mem,
  a: {
    g: number;
    x: number;
    w: number;
    dx: number;
    dw: number;
    db: number;
    rows: number;
    d: number;
    eps: number;
    accumulate: boolean;
  },
): void {
  const { f32 } = m, { d } = a;
  for (const p of [a.dw, a.db]) if (p && !a.accumulate) f32.fill(0, p / 4, p / 4 + d);
  for (let r = 0; r < a.rows; r++) {
    const xr = rowsOf(f32, a.x, r, d), gr = rowsOf(f32, a.g, r, d), mu = xr.reduce((s, v) => s + v, 0) / d;
    const inv = 1 / Math.sqrt(xr.reduce((s, v) => s + (v - mu) ** 2, 0) / d + a.eps);
    const xh = xr.map((v) => (v - mu) * inv), gw = gr.map((v, j) => v * f32[a.w / 4 + j]);
    const mg = gw.reduce((s, v) => s + v, 0) / d, mgx = gw.reduce((s, v, j) => s + v * xh[j], 0) / d;
    for (let j = 0; j < d; j++) {
      if (a.dw) f32[a.dw / 4 + j] += gr[j] * xh[j];
      if (a.db) f32[a.db / 4 + j] += gr[j];
      if (a.dx) f32[a.dx / 4 + r * d + j] = inv * (gw[j] - mg - xh[j] * mgx);
    }
  }
}

/**
 * y = x·cos + rotate_half(x)·sin, rotate_half(x) = concat(−x₂, x₁) on E, tables (B,T,E) or (T,E);
 * backward: the transpose, dx = g·cos + rotate_halfᵀ(g·sin) (= rope(g, cos, −sin) for HF tables).
 */
export function ropeRef(
  m: Mem,
  a: {
    x: number;
    cos: number;
    sin: number;
    out: number;
    b: number;
    h: number;
    t: number;
    e: number;
    perBatch: boolean;
    backward: boolean;
  },
): void {
  const { f32 } = m, { e, t } = a, half = e / 2;
  for (let bi = 0; bi < a.b; bi++) {
    for (let hi = 0; hi < a.h; hi++) {
      for (let ti = 0; ti < t; ti++) {
        const row = ((bi * a.h + hi) * t + ti) * e, tab = (a.perBatch ? bi * t * e : 0) + ti * e;
        const xr = Array.from(f32.subarray(a.x / 4 + row, a.x / 4 + row + e));
        const c = (j: number) => f32[a.cos / 4 + tab + j], s = (j: number) => f32[a.sin / 4 + tab + j];
        const rot = (j: number) => (j < half ? -xr[j + half] : xr[j - half]);
        const rotT = (j: number) => (j < half ? xr[j + half] * s(j + half) : -xr[j - half] * s(j - half));
        for (let j = 0; j < e; j++) {
          f32[a.out / 4 + row + j] = a.backward ? xr[j] * c(j) + rotT(j) : xr[j] * c(j) + rot(j) * s(j);
        }
      }
    }
  }
}
