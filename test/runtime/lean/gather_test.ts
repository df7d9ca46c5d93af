/** Lean gathers, scatters and masks: WASM equals the reference; keepMask equals onnxruntime's bits. */
import assert from "node:assert/strict";
import { input, keepMask } from "../../../src/graph/ops.ts";
import { runGraph } from "../../_util.ts";
import { pair } from "./_harness.ts";

Deno.test("lean gatherRows / scatterAddRows: match the reference, repeated ids accumulate", async () => {
  const p = await pair(1);
  for (const rowLen of [1, 3, 8, 37]) {
    p.reset();
    const rows = 11, nIds = 9;
    const table = p.rnd(rows * rowLen), ids = p.put(new Int32Array([0, 10, 3, 3, 7, 0, 5, 3, 9]));
    const out = p.junk(4 * nIds * rowLen);
    p.both((k) => k.gatherRows(table, ids, out, nIds, rowLen, rows));
    p.same(out, 4 * nIds * rowLen, `gatherRows rowLen=${rowLen}`);
    const acc = p.alloc(4 * rows * rowLen);
    p.both((k) => k.fill(acc, 0, rows * rowLen, 0));
    p.both((k) => k.scatterAddRows(out, ids, acc, nIds, rowLen, rows));
    p.close(acc, rows * rowLen, `scatterAddRows rowLen=${rowLen}`, 1e-7, 1e-6);
    const three = p.f32(acc + 4 * 3 * rowLen, rowLen, "wasm"),
      t3 = p.f32(table + 4 * 3 * rowLen, rowLen, "wasm");
    three.forEach((v, j) => assert.ok(Math.abs(v - 3 * t3[j]) < 1e-5, "id 3 appears three times"));
  }
});

Deno.test("lean gathers and scatters: an out-of-range id throws naming it, before any write", async () => {
  const p = await pair(1);
  const table = p.rnd(8), ids = p.put(new Int32Array([1, 4, -1])), out = p.junk(12);
  const before = p.u8(out, 12, "wasm");
  for (const k of [p.wasm, p.ref]) {
    assert.throws(() => k.gatherRows(table, ids, out, 3, 2, 4), /index 4 at position 1 is outside \[0, 4\)/);
    assert.throws(() => k.scatterAddRows(table, ids, out, 3, 1, 8), /index -1 at position 2/);
    assert.throws(() => k.gatherLast(table, ids, out, 2, 4), /index 4 at position 1/);
    assert.throws(() => k.scatterLast(table, ids, out, 3, 6), /index -1 at position 2/);
  }
  assert.deepEqual(p.u8(out, 12, "wasm"), before);
});

Deno.test("lean gatherLast / scatterLast: match the reference", async () => {
  const p = await pair(1);
  for (const [rows, n] of [[1, 1], [5, 3], [16, 50]]) {
    p.reset();
    const x = p.rnd(rows * n), idx = p.put(Int32Array.from({ length: rows }, () => Math.floor(p.rand() * n)));
    const out = p.junk(4 * rows);
    p.both((k) => k.gatherLast(x, idx, out, rows, n));
    p.same(out, 4 * rows, `gatherLast ${rows}×${n}`);
    const g = p.rnd(rows), acc = p.rnd(rows * n);
    p.both((k) => k.scatterLast(g, idx, acc, rows, n));
    p.same(acc, 4 * rows * n, `scatterLast ${rows}×${n}`);
  }
});

Deno.test("lean causalMask: j ≤ tk − tq + i, for square, KV-cache and tq > tk shapes", async () => {
  const p = await pair(1);
  for (const [tq, tk] of [[1, 1], [4, 4], [3, 7], [5, 2], [33, 40]]) {
    p.reset();
    const out = p.junk(tq * tk);
    p.both((k) => k.causalMask(out, tq, tk));
    p.same(out, tq * tk, `causalMask ${tq}×${tk}`);
  }
  const out = p.alloc(6);
  p.wasm.causalMask(out, 2, 3);
  assert.deepEqual([...p.u8(out, 6, "wasm")], [1, 1, 0, 1, 1, 1]);
});

Deno.test("lean keepMask: bit-identical to the keep_mask lowering run on onnxruntime-node", async () => {
  const p = await pair(1);
  const n = 4099, x = input("x", "float32", [n]), seed = input("seed", "int64", []);
  for (
    const [s, keep] of [[0, 0.9], [1, 0.5], [123457, 0.1], [-5, 0.75], [2 ** 40 + 3, 0.3], [7, 1], [7, 0]]
  ) {
    const res = await runGraph({ m: keepMask(x, seed, keep) }, {
      x: { dtype: "float32", shape: [n], data: new Float32Array(n) },
      seed: { dtype: "int64", shape: [], data: BigInt64Array.from([BigInt(s)]) },
    });
    const want = Uint8Array.from(res.m.data as Uint8Array, (v) => (v ? 1 : 0));
    p.reset();
    const out = p.junk(n);
    p.both((k) => k.keepMask(out, n, s, keep));
    p.same(out, n, `seed ${s} keep ${keep}`);
    const got = p.u8(out, n, "wasm");
    const at = got.findIndex((v, i) => v !== want[i]);
    assert.equal(at, -1, `seed ${s} keep ${keep}: element ${at} is ${got[at]}, onnxruntime ${want[at]}`);
    const frac = got.reduce((a, v) => a + v, 0) / n;
    assert.ok(Math.abs(frac - keep) < 0.05, `seed ${s}: kept ${frac}, want ≈ ${keep}`);
  }
});
