/** Every primitive op's VJP against finite differences, plus forward values of the tricky ones. */
import assert from "node:assert/strict";
import * as op from "../../src/graph/ops.ts";
import { i64 } from "../../src/runtime/session.ts";
import { gradCheck } from "./_gradcheck.ts";
import { PRIMITIVE_CASES } from "./_op_cases.ts";
import { runGraph } from "../_util.ts";
import { compile } from "../../src/runtime/compile.ts";

for (const { name, shapes, build, opts } of PRIMITIVE_CASES) {
  Deno.test(`op ${name}: VJP matches finite differences`, () => gradCheck(name, shapes, build, opts));
}

const ids = { ids: i64([2, 0, 2, 1], [2, 2]) };
Deno.test("op gatherRows: VJP (scatter-add of rows) matches finite differences", () =>
  gradCheck("gatherRows", [[3, 4]], ([w]) => op.gatherRows(w, op.input("ids", "int64", [2, 2])), {
    extra: ids,
  }));
Deno.test("op scatterAddRows: VJP matches finite differences", () =>
  gradCheck(
    "scatterAddRows",
    [[2, 2, 4], [3, 4]],
    ([g, w]) => op.mul(op.scatterAddRows(g, op.input("ids", "int64", [2, 2]), w), w),
    { extra: ids },
  ));
const idx = { idx: i64([4, 0, 1], [3]) };
Deno.test("op gatherLast: VJP matches finite differences", () =>
  gradCheck("gatherLast", [[3, 5]], ([x]) => op.gatherLast(x, op.input("idx", "int64", [3])), {
    extra: idx,
  }));
Deno.test("op scatterLast: VJP matches finite differences", () =>
  gradCheck(
    "scatterLast",
    [[3], [3, 5]],
    ([g, x]) => op.mul(op.scatterLast(g, op.input("idx", "int64", [3]), x), x),
    { extra: idx },
  ));

Deno.test("op causalMask: lower-triangular with a KV-cache offset", async () => {
  const q = op.input("q", "float32", ["Tq", 1]), k = op.input("k", "float32", ["Tk", 1]);
  const { m } = await runGraph({ m: op.cast(op.causalMask(q, k, 0), "int64") }, {
    q: { dtype: "float32", shape: [2, 1], data: new Float32Array(2) },
    k: { dtype: "float32", shape: [3, 1], data: new Float32Array(3) },
  });
  assert.deepEqual(Array.from(m.data as BigInt64Array, Number), [1, 1, 0, 1, 1, 1]);
});

Deno.test("op scatterAddRows: repeated ids accumulate", async () => {
  const g = op.input("g", "float32", [3, 2]);
  const w = op.input("w", "float32", [2, 2]);
  const { y } = await runGraph({ y: op.scatterAddRows(g, op.input("ids", "int64", [3]), w) }, {
    g: { dtype: "float32", shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
    w: { dtype: "float32", shape: [2, 2], data: new Float32Array(4) },
    ids: i64([1, 0, 1], [3]),
  });
  assert.deepEqual(Array.from(y.data as Float32Array), [3, 4, 6, 8]);
});

Deno.test("op scatterAddRows: 8,192 rows on 3 ids sum exactly on every backend, run after run", async () => {
  // onnxruntime runs ScatterND's "add" updates in parallel (CPU, WASM with threads): lowered as such, rows
  // of one id raced and lost updates (up to 87 % of a sum at this size; small shapes stay on one thread)
  const N = 8192, D = 64, V = 5;
  const g = Float32Array.from({ length: N * D }, (_, i) => (i * 7919) % 10); // integers: every sum is exact
  const ids = Array.from({ length: N }, (_, i) => (i * 31) % 3);
  const want = new Float32Array(V * D);
  ids.forEach((r, i) => {
    for (let d = 0; d < D; d++) want[r * D + d] += g[i * D + d];
  });
  const y = op.scatterAddRows(
    op.input("g", "float32", [N, D]),
    op.input("ids", "int64", [N]),
    op.input("w", "float32", [V, D]),
  );
  for (const backend of ["node", "wasm", "lean"] as const) {
    const s = await compile({ y }, { backend });
    try {
      for (let rep = 0; rep < 4; rep++) {
        const out = await s.run({
          g: { dtype: "float32", shape: [N, D], data: g },
          ids: i64(ids, [N]),
          w: { dtype: "float32", shape: [V, D], data: new Float32Array(V * D) },
        });
        assert.deepEqual(out.y.data, want, `${backend}, run ${rep + 1}`);
      }
    } finally {
      await s.release();
    }
  }
});
