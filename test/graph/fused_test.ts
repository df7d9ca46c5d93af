/** Fused ops: values against host math, backward ops (double backward) against finite differences. */
import assert from "node:assert/strict";
import * as nn from "../../src/graph/nn.ts";
import * as F from "../../src/graph/fused.ts";
import { grad } from "../../src/graph/autodiff.ts";
import { input, matmul, transposeLast } from "../../src/graph/ops.ts";
import { f32, i64 } from "../../src/runtime/session.ts";
import { gradCheck } from "./_gradcheck.ts";
import { assertClose, randn, rng, runGraph } from "../_util.ts";

const g = (shape: number[]) => input("g", "float32", shape);
const rand = rng(11);

Deno.test("rms_norm_dx / rms_norm_dw (with Gemma's offset): their VJPs match finite differences", async () => {
  const gd = f32(randn(24, rand), [2, 3, 4]);
  for (const offset of [0, 1]) {
    await gradCheck("rms_norm_dx", [[2, 3, 4], [4]], ([x, w]) => {
      const y = nn.rmsNorm(x, w, 1e-6, offset);
      return grad(y, [x], g([2, 3, 4]))[0]!;
    }, { extra: { g: gd } });
    await gradCheck(
      "rms_norm_dw",
      [[2, 3, 4], [4]],
      ([x, w]) => grad(nn.rmsNorm(x, w, 1e-6, offset), [w], g([2, 3, 4]))[0]!,
      {
        extra: { g: gd },
      },
    );
  }
});

Deno.test("layer_norm_dx / layer_norm_dw: their VJPs match finite differences", async () => {
  const gd = f32(randn(24, rand), [2, 3, 4]);
  await gradCheck(
    "layer_norm_dx",
    [[2, 3, 4], [4]],
    ([x, w]) => grad(nn.layerNorm(x, w, undefined), [x], g([2, 3, 4]))[0]!,
    {
      extra: { g: gd },
    },
  );
  await gradCheck(
    "layer_norm_dw",
    [[2, 3, 4], [4]],
    ([x, w]) => grad(nn.layerNorm(x, w, undefined), [w], g([2, 3, 4]))[0]!,
    {
      extra: { g: gd },
    },
  );
});

Deno.test("silu_bwd / gelu_tanh_bwd: their VJPs match finite differences", async () => {
  for (const f of [nn.silu, nn.geluTanh]) {
    await gradCheck(`${f.name} bwd`, [[2, 5], [2, 5]], ([x, gg]) => grad(f(x), [x], gg)[0]!, {
      lo: -3,
      hi: 3,
    });
  }
});

Deno.test("rope: its VJP rope_bwd equals autodiff of the decomposition", async () => {
  const pos = input("pos", "int64", [2, 3]);
  const { cos, sin } = nn.ropeTables(pos, 4, 10000);
  const x = input("x", "float32", [2, 2, 3, 4]), gg = g([2, 2, 3, 4]);
  const y = nn.applyRope(x, cos, sin);
  assert.equal(y.op, "rope");
  const viaOp = grad(y, [x], gg)[0]!;
  const viaDecomposition = grad(F.decompose(y), [x], gg)[0]!;
  assert.equal(viaOp.op, "rope_bwd");
  const feeds = {
    pos: i64([0, 1, 2, 5, 6, 7], [2, 3]),
    x: f32(randn(48, rand), [2, 2, 3, 4]),
    g: f32(randn(48, rand), [2, 2, 3, 4]),
  };
  const r = await runGraph({ a: viaOp, b: viaDecomposition }, feeds);
  assertClose(r.a.data as Float32Array, r.b.data as Float32Array, { atol: 1e-6, label: "rope VJP" });
});

/** softmax(q·kᵀ·scale + mask)·v on the host, GQA by head index, sliding window, key padding. */
function hostAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  mask: number[],
  [B, H, K, T, E]: number[],
  window: number,
): Float32Array {
  const out = new Float32Array(B * H * T * E), scale = 1 / Math.sqrt(E);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / (H / K));
      for (let i = 0; i < T; i++) {
        const s = Array.from({ length: T }, (_, j) => {
          const ok = j <= i && (window === 0 || j > i - window) && mask[b * T + j] !== 0;
          let d = 0;
          for (let e = 0; e < E; e++) {
            d += q[((b * H + h) * T + i) * E + e] * k[((b * K + kh) * T + j) * E + e];
          }
          return ok ? d * scale : -1e9;
        });
        const m = Math.max(...s), p = s.map((x) => Math.exp(x - m)), z = p.reduce((a, c) => a + c, 0);
        for (let e = 0; e < E; e++) {
          let acc = 0;
          for (let j = 0; j < T; j++) acc += (p[j] / z) * v[((b * K + kh) * T + j) * E + e];
          out[((b * H + h) * T + i) * E + e] = acc;
        }
      }
    }
  }
  return out;
}

Deno.test("attention (GQA without repeated k/v, sliding window, padding) equals host softmax attention", async () => {
  const [B, H, K, T, E] = [2, 4, 2, 5, 3];
  const qd = randn(B * H * T * E, rand, -2, 2),
    kd = randn(B * K * T * E, rand, -2, 2),
    vd = randn(B * K * T * E, rand);
  const mask = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
  for (const window of [0, 2]) {
    const q = input("q", "float32", [B, H, T, E]), k = input("k", "float32", [B, K, T, E]);
    const v = input("v", "float32", [B, K, T, E]), m = input("m", "int64", [B, T]);
    const y = nn.causalAttention(q, k, v, m, { window });
    const r = await runGraph({ y }, {
      q: f32(qd, [B, H, T, E]),
      k: f32(kd, [B, K, T, E]),
      v: f32(vd, [B, K, T, E]),
      m: i64(mask, [B, T]),
    });
    assertClose(r.y.data as Float32Array, hostAttention(qd, kd, vd, mask, [B, H, K, T, E], window), {
      atol: 1e-5,
      label: `window ${window}`,
    });
  }
});

Deno.test("attention_dq / _dk / _dv: VJPs match finite differences (GQA, window)", async () => {
  const mask = i64([1, 1, 1, 1, 1, 0], [2, 3]);
  await gradCheck(
    "attention",
    [[2, 4, 3, 2], [2, 2, 3, 2], [2, 2, 3, 2]],
    ([q, k, v]) => nn.causalAttention(q, k, v, input("mask", "int64", [2, 3]), { window: 2 }),
    { extra: { mask } },
  );
  const gd = f32(randn(48, rand), [2, 4, 3, 2]);
  for (const wrt of [0, 1, 2]) {
    await gradCheck(`attention d${"qkv"[wrt]}`, [[2, 4, 3, 2], [2, 2, 3, 2], [2, 2, 3, 2]], (xs) => {
      const y = nn.causalAttention(xs[0], xs[1], xs[2], input("mask", "int64", [2, 3]));
      return grad(y, [xs[wrt]], g([2, 4, 3, 2]))[0]!;
    }, { extra: { mask, g: gd } });
  }
});

Deno.test("crossEntropySum of an LM head h·Wᵀ builds lm_token_nll and equals the unfused loss", async () => {
  const h = input("h", "float32", [2, 3, 4]),
    w = input("w", "float32", [7, 4]),
    y = input("y", "int64", [2, 3]);
  const fusedSum = nn.crossEntropySum(matmul(h, transposeLast(w)), y).sum;
  assert.equal(fusedSum.inputs[0].op, "lm_token_nll");
  const plain = F.tokenNllOfLogits(matmul(h, transposeLast(w)), y);
  const feeds = {
    h: f32(randn(24, rand), [2, 3, 4]),
    w: f32(randn(28, rand), [7, 4]),
    y: i64([1, -100, 6, 0, 2, -100], [2, 3]),
  };
  const r = await runGraph({ a: fusedSum.inputs[0], b: plain }, feeds);
  assertClose(r.a.data as Float32Array, r.b.data as Float32Array, { atol: 1e-6, label: "token nll" });
  assert.equal((r.a.data as Float32Array)[1], 0);
});

Deno.test("lm_token_nll and its backward ops: VJPs match finite differences", async () => {
  const extra = { y: i64([1, -100, 6, 0, 2, 3], [2, 3]), g: f32(randn(6, rand), [2, 3]) };
  const nll = (h: ReturnType<typeof input>, w: ReturnType<typeof input>) =>
    F.lmTokenNll(h, w, input("y", "int64", [2, 3]));
  await gradCheck("lm_token_nll", [[2, 3, 4], [7, 4]], ([h, w]) => nll(h, w), { extra });
  await gradCheck("lm_token_nll_dh", [[2, 3, 4], [7, 4]], ([h, w]) => grad(nll(h, w), [h], g([2, 3]))[0]!, {
    extra,
  });
  await gradCheck("lm_token_nll_dw", [[2, 3, 4], [7, 4]], ([h, w]) => grad(nll(h, w), [w], g([2, 3]))[0]!, {
    extra,
  });
});

Deno.test("dequantize equals (q − z)·s per group, trimmed to the weight's shape", async () => {
  const q = input("q", "uint8", [8]), s = input("s", "float32", [2]), z = input("z", "uint8", [2]);
  const w = F.dequantizeOp(q, s, z, [2, 3], 8);
  const codes = Uint8Array.of(0, 1, 2, 3, 10, 20, 30, 40);
  const r = await runGraph({ w }, {
    q: { dtype: "uint8", shape: [8], data: codes },
    s: f32([0.5, 2], [2]),
    z: { dtype: "uint8", shape: [2], data: Uint8Array.of(1, 10) },
  });
  assertClose(r.w.data as Float32Array, Float32Array.of(-0.5, 0, 0.5, 1, 0, 20), {
    atol: 1e-7,
    label: "dequantized",
  });
});

Deno.test("dequantize of packed INT4 codes equals the kernels' dequantize (odd length, padded group)", async () => {
  const { quantize, dequantize } = await import("../../src/linalg/quant.ts");
  const { feedForm } = await import("../../src/optim/int8_weights.ts");
  const w = randn(2 * 75, rand);
  const q = quantize(w, { bits: 4, groupSize: 64 });
  const fed = feedForm(q);
  const qi = input("q", "uint8", [fed.length]), s = input("s", "float32", [q.scales.length]);
  const z = input("z", "uint8", [q.zeros.length]);
  const r = await runGraph({ w: F.dequantizeOp(qi, s, z, [2, 75], 4) }, {
    q: { dtype: "uint8", shape: [fed.length], data: fed },
    s: f32(q.scales, [q.scales.length]),
    z: { dtype: "uint8", shape: [q.zeros.length], data: q.zeros },
  });
  assertClose(r.w.data as Float32Array, dequantize(q), { atol: 1e-6, label: "int4" });
});
