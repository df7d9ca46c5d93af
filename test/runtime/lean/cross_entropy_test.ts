/**
 * Lean fused LM-head cross-entropy: the reference equals the unfused IR (matmul + crossEntropySum
 * and its VJPs on onnxruntime-node); WASM equals the reference for every chunking and W layout.
 */
import assert from "node:assert/strict";
import { grad } from "../../../src/graph/autodiff.ts";
import { constant, input, matmul, mul, reduceSum, transposeLast } from "../../../src/graph/ops.ts";
import { tokenNllOfLogits } from "../../../src/graph/fused.ts";
import { crossEntropySum } from "../../../src/graph/nn.ts";
import { f32, i64 } from "../../../src/runtime/session.ts";
import { assertClose, runGraph } from "../../_util.ts";
import { pair } from "./_harness.ts";

Deno.test("lean crossEntropy: reference loss, per-row NLL, dh and dW equal the IR (ignore −100)", async () => {
  const p = await pair(8);
  const [rows, d, v] = [7, 12, 37];
  for (const transW of [true, false]) {
    p.reset();
    const h = p.rnd(rows * d, -2, 2), w = p.rnd(v * d, -1, 1);
    const ys = [3, -100, 36, 0, 5, -100, 17];
    const labels = p.put(Int32Array.from(ys));
    const gRows = Float32Array.from({ length: rows }, (_, r) => 0.75 - 0.3 * r), g = p.put(gRows);
    const loss = p.alloc(4), nll = p.alloc(4 * rows), dh = p.junk(4 * rows * d), dw = p.junk(4 * v * d);
    p.ref.crossEntropy(h, w, labels, loss, rows, d, v, 3, transW, 0);
    p.ref.crossEntropyRows(h, w, labels, nll, rows, d, v, 3, transW, 0);
    p.ref.crossEntropyBackward(g, h, w, labels, dh, dw, rows, d, v, 3, transW, false, 0);
    // the IR: logits = h·Wᵀ (or h·W for W [d, v]), summed NLL, gradients of Σ_r g_r·NLL_r
    const ht = input("h", "float32", [rows, d]), wt = input("w", "float32", transW ? [v, d] : [d, v]);
    const yt = input("y", "int64", [rows]);
    const logits = matmul(ht, transW ? transposeLast(wt) : wt);
    const { sum } = crossEntropySum(logits, yt);
    const [gh, gw] = grad(reduceSum(mul(tokenNllOfLogits(logits, yt), constant(gRows, [rows])), [0]), [
      ht,
      wt,
    ]);
    const res = await runGraph({ sum, gh: gh!, gw: gw! }, {
      h: f32(p.f32(h, rows * d, "ref"), [rows, d]),
      w: f32(p.f32(w, v * d, "ref"), transW ? [v, d] : [d, v]),
      y: i64(ys, [rows]),
    });
    const label = `transW ${transW}`;
    assertClose(p.f32(loss, 1, "ref"), res.sum.data as Float32Array, { label: `${label} loss`, rtol: 1e-5 });
    assertClose(p.f32(dh, rows * d, "ref"), res.gh.data as Float32Array, {
      label: `${label} dh`,
      atol: 1e-5,
    });
    assertClose(p.f32(dw, v * d, "ref"), res.gw.data as Float32Array, { label: `${label} dW`, atol: 1e-5 });
    const rowNll = p.f32(nll, rows, "ref");
    assert.equal(rowNll[1], 0);
    assert.ok(Math.abs(rowNll.reduce((a, b) => a + b, 0) - p.f32(loss, 1, "ref")[0]) < 1e-4);
  }
});

Deno.test("lean crossEntropy: WASM equals the reference for chunk sizes, both W layouts, accumulateDw and skips", async () => {
  const p = await pair(64);
  for (const [rows, d, v] of [[1, 1, 2], [5, 7, 33], [19, 40, 301], [70, 64, 1030]]) {
    for (const transW of [true, false]) {
      for (const chunk of [1, 4, 64]) {
        p.reset();
        const h = p.rnd(rows * d, -1, 1), w = p.rnd(v * d, -1, 1);
        const labels = p.put(
          Int32Array.from({ length: rows }, (_, r) => (r % 4 === 1 ? -100 : Math.floor(p.rand() * v))),
        );
        const scratch = p.alloc(p.wasm.crossEntropyScratchBytes(chunk, v, d));
        const loss = p.alloc(4), nll = p.junk(4 * rows), dh = p.junk(4 * rows * d), dw = p.rnd(v * d);
        const g = p.rnd(rows, -2, 2);
        const label = `${rows}×${d}→${v} transW ${transW} chunk ${chunk}`;
        p.both((k) => k.crossEntropy(h, w, labels, loss, rows, d, v, chunk, transW, scratch));
        p.close(loss, 1, `${label} loss`, 1e-5, 1e-5);
        p.both((k) => k.crossEntropyRows(h, w, labels, nll, rows, d, v, chunk, transW, scratch));
        p.close(nll, rows, `${label} nll`, 1e-5, 1e-5);
        p.both((k) =>
          k.crossEntropyBackward(g, h, w, labels, dh, dw, rows, d, v, chunk, transW, true, scratch)
        );
        p.close(dh, rows * d, `${label} dh`, 1e-5, 1e-4);
        p.close(dw, v * d, `${label} dW accumulated`, 1e-5, 1e-4);
        p.both((k) =>
          k.crossEntropyBackward(g, h, w, labels, 0, dw, rows, d, v, chunk, transW, false, scratch)
        );
        p.close(dw, v * d, `${label} dW overwritten`, 1e-5, 1e-4);
      }
    }
  }
});

Deno.test("lean crossEntropy: a label ≥ v throws naming it", async () => {
  const p = await pair(1);
  const h = p.rnd(6),
    w = p.rnd(12),
    labels = p.put(new Int32Array([1, 4, 0])),
    s = p.alloc(p.wasm.crossEntropyScratchBytes(2, 4, 2));
  for (const k of [p.wasm, p.ref]) {
    assert.throws(
      () => k.crossEntropy(h, w, labels, p.alloc(4), 3, 2, 4, 2, true, s),
      /index 4 at position 1/,
    );
  }
});
