/** Every primitive op's VJP against finite differences, plus forward values of the tricky ones. */
import assert from "node:assert/strict";
import * as op from "../../src/graph/ops.ts";
import { i64 } from "../../src/runtime/session.ts";
import { gradCheck } from "./_gradcheck.ts";
import { runGraph } from "../_util.ts";

const S = [2, 3];
const cases: [string, number[][], Parameters<typeof gradCheck>[2], Parameters<typeof gradCheck>[3]?][] = [
  ["add broadcasts", [[2, 3], [3]], ([a, b]) => op.add(a, b)],
  ["sub broadcasts", [[2, 1], [2, 3]], ([a, b]) => op.sub(a, b)],
  ["mul broadcasts", [[2, 3], [1, 3]], ([a, b]) => op.mul(a, b)],
  ["div broadcasts", [[2, 3], [2, 1]], ([a, b]) => op.div(a, b), { lo: 0.5, hi: 2 }],
  ["neg", [S], ([a]) => op.neg(a)],
  ["exp", [S], ([a]) => op.exp(a)],
  ["log", [S], ([a]) => op.log(a), { lo: 0.5, hi: 2 }],
  ["sqrt", [S], ([a]) => op.sqrt(a), { lo: 0.5, hi: 2 }],
  ["reciprocal", [S], ([a]) => op.reciprocal(a), { lo: 0.5, hi: 2 }],
  ["tanh", [S], ([a]) => op.tanh(a)],
  ["sigmoid", [S], ([a]) => op.sigmoid(a)],
  ["cos", [S], ([a]) => op.cos(a)],
  ["sin", [S], ([a]) => op.sin(a)],
  ["where", [S, S], ([a, b]) => op.where(op.less(a, b), op.mul(a, 2), b)],
  ["cast float→float is identity for gradients", [S], ([a]) => op.cast(op.cast(a, "float16"), "float32"), {
    tol: 2e-2,
  }],
  ["matmul 2d", [[3, 4], [4, 2]], ([a, b]) => op.matmul(a, b)],
  ["matmul batched × matrix", [[2, 3, 4], [4, 5]], ([a, b]) => op.matmul(a, b)],
  ["matmul broadcast batch", [[2, 1, 3, 4], [1, 2, 4, 2]], ([a, b]) => op.matmul(a, b)],
  ["reduceSum keepdims", [[2, 3, 4]], ([a]) => op.reduceSum(a, [1], true)],
  ["reduceSum drop", [[2, 3, 4]], ([a]) => op.reduceSum(a, [0, 2])],
  ["reduceMean", [[2, 3, 4]], ([a]) => op.reduceMean(a, [-1], true)],
  ["reduceMean drop", [[2, 3, 4]], ([a]) => op.reduceMean(a, [1])],
  ["softmax", [[2, 5]], ([a]) => op.softmax(a, -1)],
  ["softmax axis 0", [[3, 2]], ([a]) => op.softmax(a, 0)],
  ["logSoftmax", [[2, 5]], ([a]) => op.logSoftmax(a, -1)],
  ["reshape", [[2, 3, 4]], ([a]) => op.reshape(a, [0, -1])],
  [
    "unsqueeze/squeeze",
    [[2, 3]],
    ([a]) => op.mul(op.squeeze(op.unsqueeze(a, [1]), [1]), op.unsqueeze(a, [0])),
  ],
  ["transpose", [[2, 3, 4]], ([a]) => op.transpose(a, [2, 0, 1])],
  ["slice", [[2, 6]], ([a]) => op.slice(a, 1, 1, 4)],
  ["padAxis", [[2, 3]], ([a]) => op.padAxis(a, 1, 2, 1)],
  ["concat", [[2, 3], [2, 2]], ([a, b]) => op.concat([a, b], 1)],
  ["expand", [[2, 1, 3]], ([a]) => op.expand(a, [1, 4, 1])],
  ["expandLike", [[3], [2, 3]], ([a, b]) => op.mul(op.expandLike(a, b), b)],
  ["reshapeLike", [[6], [2, 3]], ([a, b]) => op.mul(op.reshapeLike(a, b), b)],
];

for (const [name, shapes, build, opts] of cases) {
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
