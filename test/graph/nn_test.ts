/** Composite layers: gradients against finite differences and forward values against host math. */
import assert from "node:assert/strict";
import * as nn from "../../src/graph/nn.ts";
import { input, mul, reduceSum } from "../../src/graph/ops.ts";
import { grad } from "../../src/graph/autodiff.ts";
import { f32, i64 } from "../../src/runtime/session.ts";
import { gradCheck } from "./_gradcheck.ts";
import { assertClose, randn, rng, runGraph } from "../_util.ts";

Deno.test("layerNorm: VJP matches finite differences", () =>
  gradCheck("layerNorm", [[2, 3, 4], [4], [4]], ([x, g, b]) => nn.layerNorm(x, g, b)));
Deno.test("rmsNorm: VJP matches finite differences", () =>
  gradCheck("rmsNorm", [[2, 3, 4], [4]], ([x, g]) => nn.rmsNorm(x, g)));
Deno.test("geluTanh: VJP matches finite differences", () =>
  gradCheck("gelu", [[2, 5]], ([x]) => nn.geluTanh(x), { lo: -3, hi: 3 }));
Deno.test("silu: VJP matches finite differences", () =>
  gradCheck("silu", [[2, 5]], ([x]) => nn.silu(x), { lo: -3, hi: 3 }));
Deno.test("linear: VJP matches finite differences", () =>
  gradCheck("linear", [[2, 3, 4], [4, 5], [5]], ([x, w, b]) => nn.linear(x, w, b)));

const pos = i64([0, 1, 2, 0, 1, 2], [2, 3]);
Deno.test("applyRope: VJP matches finite differences", () =>
  gradCheck("rope", [[2, 2, 3, 4]], ([x]) => {
    const { cos, sin } = nn.ropeTables(input("pos", "int64", [2, 3]), 4, 10000);
    return nn.applyRope(x, cos, sin);
  }, { extra: { pos } }));

Deno.test("causalAttention with padding and GQA: VJP matches finite differences", () =>
  gradCheck("attention", [[2, 4, 3, 2], [2, 2, 3, 2], [2, 2, 3, 2]], ([q, k, v]) => {
    const mask = input("mask", "int64", [2, 3]);
    return nn.causalAttention(q, nn.repeatKv(k, 2), nn.repeatKv(v, 2), mask);
  }, { extra: { mask: i64([1, 1, 1, 1, 1, 0], [2, 3]) } }));

Deno.test("crossEntropy with ignore index: VJP matches finite differences", () =>
  gradCheck("ce", [[2, 3, 5]], ([x]) => nn.crossEntropy(x, input("y", "int64", [2, 3])), {
    extra: { y: i64([1, -100, 4, 0, 2, -100], [2, 3]) },
  }));

Deno.test("crossEntropy equals host log-softmax NLL over non-ignored targets", async () => {
  const rand = rng(3);
  const x = randn(2 * 5, rand, -2, 2), y = [3, -100];
  const { l } = await runGraph(
    { l: nn.crossEntropy(input("x", "float32", [2, 5]), input("y", "int64", [2])) },
    { x: f32(x, [2, 5]), y: i64(y, [2]) },
  );
  const lse = Math.log(x.slice(0, 5).reduce((s, v) => s + Math.exp(v), 0));
  assertClose(l.data as Float32Array, [lse - x[3]], { label: "ce" });
});

Deno.test("geluTanh matches the gelu_new formula", async () => {
  const xs = [-3, -0.5, 0, 0.7, 2];
  const { y } = await runGraph({ y: nn.geluTanh(input("x", "float32", [5])) }, { x: f32(xs, [5]) });
  const want = xs.map((x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))));
  assertClose(y.data as Float32Array, want, { label: "gelu" });
});

Deno.test("causalAttention: padded keys get zero weight and the first query sees only itself", async () => {
  const v = Float32Array.from([1, 10, 100]);
  const { o } = await runGraph({
    o: nn.causalAttention(
      input("q", "float32", [1, 1, 3, 1]),
      input("k", "float32", [1, 1, 3, 1]),
      input("v", "float32", [1, 1, 3, 1]),
      input("m", "int64", [1, 3]),
    ),
  }, {
    q: f32([0, 0, 0], [1, 1, 3, 1]),
    k: f32([0, 0, 0], [1, 1, 3, 1]),
    v: f32(v, [1, 1, 3, 1]),
    m: i64([1, 0, 1], [1, 3]),
  });
  assertClose(o.data as Float32Array, [1, 1, 50.5], { label: "attn" });
});

Deno.test("rotateHalf + RoPE at position 0 is the identity and preserves norms elsewhere", async () => {
  const x = randn(8, rng(5));
  const { cos, sin } = nn.ropeTables(input("pos", "int64", [1, 2]), 4, 10000);
  const { y } = await runGraph({ y: nn.applyRope(input("x", "float32", [1, 1, 2, 4]), cos, sin) }, {
    x: f32(x, [1, 1, 2, 4]),
    pos: i64([0, 7], [1, 2]),
  });
  const yd = y.data as Float32Array;
  assertClose(yd.slice(0, 4), x.slice(0, 4), { label: "pos 0" });
  const n = (a: Float32Array) => Math.hypot(...a);
  assert.ok(Math.abs(n(yd.slice(4)) - n(x.slice(4))) < 1e-5);
});

Deno.test("grad of grad: Hessian-vector product matches finite differences of gradients", async () => {
  // f(w) = Σ softplus-ish nonlinear function; HVP = d/dε ∇f(w + εv) at ε = 0.
  const w = input("w", "float32", [2, 3]), v = input("v", "float32", [2, 3]);
  const x = input("x", "float32", [4, 2]);
  const f = nn.crossEntropy(nn.geluTanh(nn.linear(x, w)), input("y", "int64", [4]));
  const [g] = grad(f, [w]);
  const [hv] = grad(reduceSum(mul(g!, v), [0, 1]), [w]);
  const rand = rng(9);
  const wd = randn(6, rand), vd = randn(6, rand), xd = randn(8, rand, -2, 2);
  const feeds = (wv: Float32Array) => ({
    w: f32(wv, [2, 3]),
    v: f32(vd, [2, 3]),
    x: f32(xd, [4, 2]),
    y: i64([0, 2, 1, 2], [4]),
  });
  const { hv: got } = await runGraph({ hv: hv! }, feeds(wd));
  const eps = 1e-2;
  const gAt = async (s: number) =>
    (await runGraph({ g: g! }, feeds(wd.map((a, i) => a + s * eps * vd[i])))).g.data as Float32Array;
  const gp = await gAt(1), gm = await gAt(-1);
  const fd = gp.map((a, i) => (a - gm[i]) / (2 * eps));
  assertClose(got.data as Float32Array, fd, { atol: 2e-3, rtol: 2e-2, label: "hvp" });
});
