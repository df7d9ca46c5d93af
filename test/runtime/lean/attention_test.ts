/**
 * Lean fused attention: the reference equals the IR's causalAttention (softmax(QKᵀ/√E + −1e9 mask)V
 * with repeat_kv for GQA, and its VJPs, on onnxruntime-node) and an explicit sliding-window
 * formula; WASM equals the reference on block-crossing, ragged, GQA, KV-cache and padded shapes.
 */
import assert from "node:assert/strict";
import { grad } from "../../../src/graph/autodiff.ts";
import { input, mul, reduceSum } from "../../../src/graph/ops.ts";
import { causalAttention, repeatKv } from "../../../src/graph/nn.ts";
import { f32, i64 } from "../../../src/runtime/session.ts";
import { assertClose, runGraph } from "../../_util.ts";
import { type Pair, pair } from "./_harness.ts";

interface Case {
  b: number;
  h: number;
  kvh: number;
  tq: number;
  tk: number;
  e: number;
  window: number;
  /** Left padding per batch row (keys j < pad[b] masked), or none. */
  pad?: number[];
}

function setup(p: Pair, c: Case) {
  const q = p.rnd(c.b * c.h * c.tq * c.e, -1.5, 1.5), k = p.rnd(c.b * c.kvh * c.tk * c.e, -1.5, 1.5);
  const v = p.rnd(c.b * c.kvh * c.tk * c.e), dout = p.rnd(c.b * c.h * c.tq * c.e);
  const maskData = Int32Array.from(
    { length: c.b * c.tk },
    (_, i) => (c.pad && i % c.tk < c.pad[Math.floor(i / c.tk)] ? 0 : 1),
  );
  const mask = c.pad ? p.put(maskData) : 0;
  const nq = c.b * c.h * c.tq * c.e, nk = c.b * c.kvh * c.tk * c.e;
  const out = p.junk(4 * nq), lse = p.junk(4 * c.b * c.h * c.tq);
  const dq = p.junk(4 * nq), dk = p.junk(4 * nk), dv = p.junk(4 * nk);
  return { q, k, v, dout, mask, maskData, out, lse, dq, dk, dv, nq, nk, scale: 1 / Math.sqrt(c.e) };
}

Deno.test("lean attention: the reference forward and backward equal the IR's causalAttention (GQA, padding, KV cache)", async () => {
  const p = await pair(8);
  const cases: Case[] = [
    { b: 1, h: 1, kvh: 1, tq: 4, tk: 4, e: 3, window: 0 },
    { b: 2, h: 4, kvh: 2, tq: 5, tk: 5, e: 8, window: 0, pad: [0, 3] },
    { b: 1, h: 2, kvh: 1, tq: 3, tk: 7, e: 4, window: 0 }, // KV cache: queries at positions 4..6
    { b: 2, h: 2, kvh: 2, tq: 4, tk: 4, e: 4, window: 0, pad: [4, 1] }, // batch 0 fully masked
  ];
  for (const c of cases) {
    p.reset();
    const t = setup(p, c);
    p.ref.attention(
      t.q,
      t.k,
      t.v,
      t.mask,
      t.out,
      t.lse,
      c.b,
      c.h,
      c.kvh,
      c.tq,
      c.tk,
      c.e,
      t.scale,
      c.window,
      0,
    );
    p.ref.attentionBackward(
      t.dout,
      t.q,
      t.k,
      t.v,
      t.mask,
      t.out,
      t.lse,
      t.dq,
      t.dk,
      t.dv,
      c.b,
      c.h,
      c.kvh,
      c.tq,
      c.tk,
      c.e,
      t.scale,
      c.window,
      0,
    );
    const qt = input("q", "float32", [c.b, c.h, c.tq, c.e]),
      kt = input("k", "float32", [c.b, c.kvh, c.tk, c.e]);
    const vt = input("v", "float32", [c.b, c.kvh, c.tk, c.e]),
      gt = input("g", "float32", [c.b, c.h, c.tq, c.e]);
    const mt = input("m", "int64", [c.b, c.tk]);
    const rep = c.h / c.kvh;
    const o = causalAttention(qt, repeatKv(kt, rep), repeatKv(vt, rep), c.pad ? mt : undefined);
    const [gq, gk, gv] = grad(reduceSum(mul(o, gt), [0, 1, 2, 3]), [qt, kt, vt]);
    const feeds = {
      q: f32(p.f32(t.q, t.nq, "ref"), [c.b, c.h, c.tq, c.e]),
      k: f32(p.f32(t.k, t.nk, "ref"), [c.b, c.kvh, c.tk, c.e]),
      v: f32(p.f32(t.v, t.nk, "ref"), [c.b, c.kvh, c.tk, c.e]),
      g: f32(p.f32(t.dout, t.nq, "ref"), [c.b, c.h, c.tq, c.e]),
      ...(c.pad ? { m: i64(t.maskData, [c.b, c.tk]) } : {}),
    };
    const res = await runGraph({ o, gq: gq!, gk: gk!, gv: gv! }, feeds);
    const label = JSON.stringify(c);
    assertClose(p.f32(t.out, t.nq, "ref"), res.o.data as Float32Array, { label: `${label} out` });
    assertClose(p.f32(t.dq, t.nq, "ref"), res.gq.data as Float32Array, { label: `${label} dq` });
    assertClose(p.f32(t.dk, t.nk, "ref"), res.gk.data as Float32Array, { label: `${label} dk` });
    assertClose(p.f32(t.dv, t.nk, "ref"), res.gv.data as Float32Array, { label: `${label} dv` });
  }
});

Deno.test("lean attention: the reference's sliding window equals an explicit windowed softmax", async () => {
  const p = await pair(1);
  const c: Case = { b: 1, h: 1, kvh: 1, tq: 6, tk: 6, e: 2, window: 2 };
  const t = setup(p, c);
  p.ref.attention(t.q, t.k, t.v, 0, t.out, t.lse, 1, 1, 1, 6, 6, 2, t.scale, 2, 0);
  const [q, k, v] = [p.f32(t.q, 12, "ref"), p.f32(t.k, 12, "ref"), p.f32(t.v, 12, "ref")];
  const out = p.f32(t.out, 12, "ref");
  for (let i = 0; i < 6; i++) {
    const keys = [i - 1, i].filter((j) => j >= 0); // window 2: j ∈ (i − 2, i]
    const s = keys.map((j) => t.scale * (q[2 * i] * k[2 * j] + q[2 * i + 1] * k[2 * j + 1]));
    const z = s.reduce((a, x) => a + Math.exp(x), 0);
    for (let cc = 0; cc < 2; cc++) {
      const want = keys.reduce((a, j, n) => a + (Math.exp(s[n]) / z) * v[2 * j + cc], 0);
      assert.ok(Math.abs(out[2 * i + cc] - want) < 1e-5, `row ${i} col ${cc}: ${out[2 * i + cc]} vs ${want}`);
    }
  }
});

Deno.test("lean attention: WASM forward equals the reference (blocks, ragged E, GQA, window, padding, tq ≠ tk)", async () => {
  const p = await pair(64);
  const cases: Case[] = [
    { b: 1, h: 1, kvh: 1, tq: 1, tk: 1, e: 1, window: 0 },
    { b: 1, h: 2, kvh: 1, tq: 7, tk: 7, e: 5, window: 0 },
    { b: 2, h: 4, kvh: 2, tq: 70, tk: 70, e: 16, window: 0, pad: [0, 9] },
    { b: 1, h: 3, kvh: 3, tq: 130, tk: 130, e: 12, window: 37 },
    { b: 1, h: 2, kvh: 1, tq: 5, tk: 150, e: 8, window: 0 }, // KV cache
    { b: 1, h: 1, kvh: 1, tq: 9, tk: 4, e: 4, window: 0 }, // tq > tk: early rows see nothing
    { b: 2, h: 2, kvh: 1, tq: 67, tk: 67, e: 64, window: 20, pad: [67, 30] },
    { b: 1, h: 2, kvh: 2, tq: 200, tk: 200, e: 33, window: 0 },
  ];
  for (const c of cases) {
    p.reset();
    const t = setup(p, c);
    const s = p.alloc(p.wasm.attentionScratchBytes(c.b, c.h, c.kvh, c.tq, c.tk, c.e));
    p.both((k) =>
      k.attention(t.q, t.k, t.v, t.mask, t.out, t.lse, c.b, c.h, c.kvh, c.tq, c.tk, c.e, t.scale, c.window, s)
    );
    const label = JSON.stringify(c);
    p.close(t.out, t.nq, `${label} out`, 1e-5, 1e-4);
    p.close(t.lse, c.b * c.h * c.tq, `${label} lse`, 1e-5, 1e-5);
  }
});

Deno.test("lean attentionBackward: WASM equals the reference (dk/dv summed over GQA heads, masked rows, window)", async () => {
  const p = await pair(64);
  const cases: Case[] = [
    { b: 1, h: 1, kvh: 1, tq: 1, tk: 1, e: 1, window: 0 },
    { b: 1, h: 2, kvh: 1, tq: 7, tk: 7, e: 5, window: 0 },
    { b: 2, h: 4, kvh: 2, tq: 70, tk: 70, e: 16, window: 0, pad: [0, 9] },
    { b: 1, h: 3, kvh: 3, tq: 130, tk: 130, e: 12, window: 37 },
    { b: 1, h: 2, kvh: 1, tq: 5, tk: 150, e: 8, window: 0 },
    { b: 1, h: 1, kvh: 1, tq: 9, tk: 4, e: 4, window: 0 },
    { b: 2, h: 2, kvh: 1, tq: 67, tk: 67, e: 64, window: 20, pad: [67, 30] },
    { b: 1, h: 2, kvh: 2, tq: 200, tk: 200, e: 33, window: 0 },
  ];
  for (const c of cases) {
    p.reset();
    const t = setup(p, c);
    const s = p.alloc(Math.max(
      p.wasm.attentionScratchBytes(c.b, c.h, c.kvh, c.tq, c.tk, c.e),
      p.wasm.attentionBackwardScratchBytes(c.b, c.h, c.kvh, c.tq, c.tk, c.e),
    ));
    p.both((k) =>
      k.attention(t.q, t.k, t.v, t.mask, t.out, t.lse, c.b, c.h, c.kvh, c.tq, c.tk, c.e, t.scale, c.window, s)
    );
    p.both((k) =>
      k.attentionBackward(
        t.dout,
        t.q,
        t.k,
        t.v,
        t.mask,
        t.out,
        t.lse,
        t.dq,
        t.dk,
        t.dv,
        c.b,
        c.h,
        c.kvh,
        c.tq,
        c.tk,
        c.e,
        t.scale,
        c.window,
        s,
      )
    );
    const label = JSON.stringify(c);
    p.close(t.dq, t.nq, `${label} dq`, 1e-5, 1e-4);
    p.close(t.dk, t.nk, `${label} dk`, 1e-5, 1e-4);
    p.close(t.dv, t.nk, `${label} dv`, 1e-5, 1e-4);
  }
});
