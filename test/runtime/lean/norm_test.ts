/**
 * Lean RMSNorm, LayerNorm and RoPE: the reference forward and backward equal the unfused IR
 * (src/graph/nn.ts and its VJPs, run on onnxruntime-node); WASM equals the reference.
 */
import { grad } from "../../../src/graph/autodiff.ts";
import type { Tensor } from "../../../src/graph/ir.ts";
import { add, input, mul, reduceSum } from "../../../src/graph/ops.ts";
import { applyRope, layerNorm, rmsNorm } from "../../../src/graph/nn.ts";
import { f32 } from "../../../src/runtime/session.ts";
import { assertClose, runGraph } from "../../_util.ts";
import { type Pair, pair } from "./_harness.ts";

/** Run y = f(inputs) and the VJPs of ⟨y, g⟩ w.r.t. `wrt` on onnxruntime-node. */
async function irWithGrads(
  p: Pair,
  ins: Record<string, [number, number[]]>,
  f: (t: Record<string, Tensor>) => Tensor,
  wrt: string[],
): Promise<Record<string, Float32Array>> {
  const t: Record<string, Tensor> = {}, feeds: Record<string, ReturnType<typeof f32>> = {};
  for (const [name, [ptr, shape]] of Object.entries(ins)) {
    t[name] = input(name, "float32", shape);
    feeds[name] = f32(p.f32(ptr, shape.reduce((a, b) => a * b, 1), "ref"), shape);
  }
  const y = f(t), axes = y.shape.map((_, i) => i);
  const gs = grad(reduceSum(mul(y, t.g), axes), wrt.map((w) => t[w]));
  const outs: Record<string, Tensor> = { y };
  wrt.forEach((w, i) => outs[`d${w}`] = gs[i]!);
  const res = await runGraph(outs, feeds);
  return Object.fromEntries(Object.entries(res).map(([k, v]) => [k, v.data as Float32Array]));
}

Deno.test("lean rmsNorm (offset 0 and Gemma's 1) and its backward: reference = IR, WASM = reference", async () => {
  const p = await pair(4);
  for (const [rows, d] of [[1, 1], [3, 5], [4, 64], [7, 257]]) {
    for (const offset of [0, 1]) {
      p.reset();
      const x = p.rnd(rows * d, -2, 2), w = p.rnd(d, 0.5, 1.5), g = p.rnd(rows * d), eps = 1e-6;
      const ir = await irWithGrads(
        p,
        { x: [x, [rows, d]], w: [w, [d]], g: [g, [rows, d]] },
        (t) => rmsNorm(t.x, add(t.w, offset), eps),
        ["x", "w"],
      );
      const y = p.junk(4 * rows * d), dx = p.junk(4 * rows * d), dw = p.rnd(d);
      p.both((k) => k.rmsNorm(x, w, y, rows, d, eps, offset));
      p.both((k) => k.rmsNormBackward(g, x, w, dx, dw, rows, d, eps, offset, false));
      const label = `rms ${rows}×${d} offset ${offset}`;
      assertClose(p.f32(y, rows * d, "ref"), ir.y, { label: `${label} y vs IR` });
      assertClose(p.f32(dx, rows * d, "ref"), ir.dx, { label: `${label} dx vs IR`, atol: 1e-4 });
      assertClose(p.f32(dw, d, "ref"), ir.dw, { label: `${label} dw vs IR`, atol: 1e-4 });
      p.close(y, rows * d, `${label} y`);
      p.close(dx, rows * d, `${label} dx`, 1e-5, 1e-4);
      p.close(dw, d, `${label} dw`, 1e-5, 1e-4);
      // accumulateDw adds; dx = 0 skips; in place over g
      p.both((k) => k.rmsNormBackward(g, x, w, 0, dw, rows, d, eps, offset, true));
      assertClose(p.f32(dw, d, "wasm"), ir.dw.map((v) => 2 * v), {
        label: `${label} dw accumulated`,
        atol: 2e-4,
      });
      p.both((k) => k.rmsNormBackward(g, x, w, g, 0, rows, d, eps, offset, false));
      assertClose(p.f32(g, rows * d, "wasm"), ir.dx, { label: `${label} dx in place`, atol: 1e-4 });
    }
  }
});

Deno.test("lean layerNorm (with and without bias) and its backward: reference = IR, WASM = reference", async () => {
  const p = await pair(4);
  for (const [rows, d] of [[1, 2], [3, 5], [5, 64], [2, 300]]) {
    for (const withBias of [true, false]) {
      p.reset();
      const x = p.rnd(rows * d, -2, 3),
        w = p.rnd(d, 0.5, 1.5),
        bb = p.rnd(d),
        g = p.rnd(rows * d),
        eps = 1e-5;
      const ins: Record<string, [number, number[]]> = {
        x: [x, [rows, d]],
        w: [w, [d]],
        b: [bb, [d]],
        g: [g, [rows, d]],
      };
      const ir = await irWithGrads(
        p,
        ins,
        (t) => layerNorm(t.x, t.w, withBias ? t.b : undefined, eps),
        withBias ? ["x", "w", "b"] : ["x", "w"],
      );
      const y = p.junk(4 * rows * d), dx = p.junk(4 * rows * d), dw = p.junk(4 * d), db = p.junk(4 * d);
      const bias = withBias ? bb : 0;
      p.both((k) => k.layerNorm(x, w, bias, y, rows, d, eps));
      p.both((k) => k.layerNormBackward(g, x, w, dx, dw, withBias ? db : 0, rows, d, eps, false));
      const label = `ln ${rows}×${d} bias ${withBias}`;
      assertClose(p.f32(y, rows * d, "ref"), ir.y, { label: `${label} y vs IR` });
      assertClose(p.f32(dx, rows * d, "ref"), ir.dx, { label: `${label} dx vs IR`, atol: 1e-4 });
      assertClose(p.f32(dw, d, "ref"), ir.dw, { label: `${label} dw vs IR`, atol: 1e-4 });
      if (withBias) assertClose(p.f32(db, d, "ref"), ir.db, { label: `${label} db vs IR`, atol: 1e-4 });
      p.close(y, rows * d, `${label} y`);
      p.close(dx, rows * d, `${label} dx`, 1e-5, 1e-4);
      p.close(dw, d, `${label} dw`, 1e-5, 1e-4);
      if (withBias) p.close(db, d, `${label} db`, 1e-5, 1e-4);
    }
  }
});

Deno.test("lean rope and ropeBackward: reference = IR applyRope and its VJP (per-batch and shared tables)", async () => {
  const p = await pair(4);
  for (const [b, h, t, e] of [[1, 1, 1, 2], [2, 3, 5, 8], [1, 2, 7, 6], [2, 2, 9, 64]]) {
    for (const perBatch of [true, false]) {
      p.reset();
      const n = b * h * t * e, tab = (perBatch ? b : 1) * t * e;
      const x = p.rnd(n), g = p.rnd(n), cos = p.rnd(tab), sin = p.rnd(tab); // arbitrary tables: exact transpose
      const tabShape = perBatch ? [b, 1, t, e] : [t, e];
      const ins: Record<string, [number, number[]]> = {
        x: [x, [b, h, t, e]],
        c: [cos, tabShape],
        s: [sin, tabShape],
        g: [g, [b, h, t, e]],
      };
      const ir = await irWithGrads(p, ins, (z) => applyRope(z.x, z.c, z.s), ["x"]);
      const y = p.junk(4 * n), dx = p.junk(4 * n);
      p.both((k) => k.rope(x, cos, sin, y, b, h, t, e, perBatch));
      p.both((k) => k.ropeBackward(g, cos, sin, dx, b, h, t, e, perBatch));
      const label = `rope [${b},${h},${t},${e}] perBatch ${perBatch}`;
      assertClose(p.f32(y, n, "ref"), ir.y, { label: `${label} y vs IR` });
      assertClose(p.f32(dx, n, "ref"), ir.dx, { label: `${label} dx vs IR` });
      p.close(y, n, `${label} y`);
      p.close(dx, n, `${label} dx`);
      p.both((k) => k.rope(x, cos, sin, x, b, h, t, e, perBatch)); // in place
      p.close(x, n, `${label} in place`);
      assertClose(p.f32(x, n, "wasm"), ir.y, { label: `${label} in place vs IR` });
    }
  }
});
