/**
 * Gradient-check cases for every op of the IR, shared by the backends' tests: the primitive ops of
 * ops.ts, the fused ops of fused.ts, and the backward ops they emit (checked by differentiating them
 * again). Each case builds one output from float inputs of the given shapes.
 */
import * as op from "../../src/graph/ops.ts";
import * as nn from "../../src/graph/nn.ts";
import * as F from "../../src/graph/fused.ts";
import { grad } from "../../src/graph/autodiff.ts";
import type { Tensor } from "../../src/graph/ir.ts";
import { f32, i64 } from "../../src/runtime/session.ts";
import type { GradCheckOptions } from "./_gradcheck.ts";
import { randn, rng } from "../_util.ts";

/** One case: inputs' shapes, the graph, options (int inputs as `extra`, ranges, tolerance). */
export interface OpCase {
  name: string;
  shapes: number[][];
  build: (xs: Tensor[]) => Tensor;
  opts?: GradCheckOptions;
}

const S = [2, 3];
const c = (name: string, shapes: number[][], build: OpCase["build"], opts?: GradCheckOptions): OpCase => ({
  name,
  shapes,
  build,
  opts,
});

/** The primitive ops (ops.ts). */
export const PRIMITIVE_CASES: OpCase[] = [
  c("add broadcasts", [[2, 3], [3]], ([a, b]) => op.add(a, b)),
  c("sub broadcasts", [[2, 1], [2, 3]], ([a, b]) => op.sub(a, b)),
  c("mul broadcasts", [[2, 3], [1, 3]], ([a, b]) => op.mul(a, b)),
  c("div broadcasts", [[2, 3], [2, 1]], ([a, b]) => op.div(a, b), { lo: 0.5, hi: 2 }),
  c("neg", [S], ([a]) => op.neg(a)),
  c("exp", [S], ([a]) => op.exp(a)),
  c("log", [S], ([a]) => op.log(a), { lo: 0.5, hi: 2 }),
  c("sqrt", [S], ([a]) => op.sqrt(a), { lo: 0.5, hi: 2 }),
  c("reciprocal", [S], ([a]) => op.reciprocal(a), { lo: 0.5, hi: 2 }),
  c("tanh", [S], ([a]) => op.tanh(a)),
  c("sigmoid", [S], ([a]) => op.sigmoid(a)),
  c("cos", [S], ([a]) => op.cos(a)),
  c("sin", [S], ([a]) => op.sin(a)),
  c("where", [S, S], ([a, b]) => op.where(op.less(a, b), op.mul(a, 2), b)),
  c("cast float→float is identity for gradients", [S], ([a]) => op.cast(op.cast(a, "float16"), "float32"), {
    tol: 2e-2,
  }),
  c("matmul 2d", [[3, 4], [4, 2]], ([a, b]) => op.matmul(a, b)),
  c("matmul batched × matrix", [[2, 3, 4], [4, 5]], ([a, b]) => op.matmul(a, b)),
  c("matmul broadcast batch", [[2, 1, 3, 4], [1, 2, 4, 2]], ([a, b]) => op.matmul(a, b)),
  c(
    "matmul with transposed operands",
    [[4, 3], [2, 4]],
    ([a, b]) => op.matmul(op.transposeLast(a), op.transposeLast(b)),
  ),
  c("reduceSum keepdims", [[2, 3, 4]], ([a]) => op.reduceSum(a, [1], true)),
  c("reduceSum drop", [[2, 3, 4]], ([a]) => op.reduceSum(a, [0, 2])),
  c("reduceMean", [[2, 3, 4]], ([a]) => op.reduceMean(a, [-1], true)),
  c("reduceMean drop", [[2, 3, 4]], ([a]) => op.reduceMean(a, [1])),
  c("softmax", [[2, 5]], ([a]) => op.softmax(a, -1)),
  c("softmax axis 0", [[3, 2]], ([a]) => op.softmax(a, 0)),
  c("logSoftmax", [[2, 5]], ([a]) => op.logSoftmax(a, -1)),
  c("reshape", [[2, 3, 4]], ([a]) => op.reshape(a, [0, -1])),
  c(
    "unsqueeze/squeeze",
    [[2, 3]],
    ([a]) => op.mul(op.squeeze(op.unsqueeze(a, [1]), [1]), op.unsqueeze(a, [0])),
  ),
  c("transpose", [[2, 3, 4]], ([a]) => op.transpose(a, [2, 0, 1])),
  c("slice", [[2, 6]], ([a]) => op.slice(a, 1, 1, 4)),
  c("padAxis", [[2, 3]], ([a]) => op.padAxis(a, 1, 2, 1)),
  c("concat", [[2, 3], [2, 2]], ([a, b]) => op.concat([a, b], 1)),
  c("expand", [[2, 1, 3]], ([a]) => op.expand(a, [1, 4, 1])),
  c("expandLike", [[3], [2, 3]], ([a, b]) => op.mul(op.expandLike(a, b), b)),
  c("reshapeLike", [[6], [2, 3]], ([a, b]) => op.mul(op.reshapeLike(a, b), b)),
  c("checkpoint", [S], ([a]) => op.mul(op.checkpoint(a, 0), a)),
  c("gatherRows", [[3, 4]], ([w]) => op.gatherRows(w, op.input("ids", "int64", [2, 2])), {
    extra: { ids: i64([2, 0, 2, 1], [2, 2]) },
  }),
  c(
    "scatterAddRows",
    [[2, 2, 4], [3, 4]],
    ([g, w]) => op.mul(op.scatterAddRows(g, op.input("ids", "int64", [2, 2]), w), w),
    {
      extra: { ids: i64([2, 0, 2, 1], [2, 2]) },
    },
  ),
  c("gatherLast", [[3, 5]], ([x]) => op.gatherLast(x, op.input("idx", "int64", [3])), {
    extra: { idx: i64([4, 0, 1], [3]) },
  }),
  c(
    "scatterLast",
    [[3], [3, 5]],
    ([g, x]) => op.mul(op.scatterLast(g, op.input("idx", "int64", [3]), x), x),
    {
      extra: { idx: i64([4, 0, 1], [3]) },
    },
  ),
];

const gIn = (shape: number[]) => op.input("g", "float32", shape);
const rand = rng(5);
const gFeed = (shape: number[]) => f32(randn(shape.reduce((a, b) => a * b, 1), rand), shape);
const pos = { pos: i64([0, 1, 2, 0, 1, 2], [2, 3]) };
const rope = (x: Tensor) => {
  const { cos, sin } = nn.ropeTables(op.input("pos", "int64", [2, 3]), 4, 10000);
  return nn.applyRope(x, cos, sin);
};
const mask = { mask: i64([1, 1, 1, 1, 1, 0], [2, 3]) };
const maskIn = () => op.input("mask", "int64", [2, 3]);
const labels = { y: i64([1, -100, 6, 0, 2, 3], [2, 3]) };
const nll = (h: Tensor, w: Tensor) => F.lmTokenNll(h, w, op.input("y", "int64", [2, 3]));

/** The fused ops (fused.ts) and their backward ops, differentiated again. */
export const FUSED_CASES: OpCase[] = [
  c("rms_norm", [[2, 3, 4], [4]], ([x, w]) => nn.rmsNorm(x, w)),
  c("rms_norm (offset 1)", [[2, 3, 4], [4]], ([x, w]) => nn.rmsNorm(x, w, 1e-6, 1)),
  c("rms_norm_dx", [[2, 3, 4], [4]], ([x, w]) => grad(nn.rmsNorm(x, w), [x], gIn([2, 3, 4]))[0]!, {
    extra: { g: gFeed([2, 3, 4]) },
  }),
  c("rms_norm_dw", [[2, 3, 4], [4]], ([x, w]) => grad(nn.rmsNorm(x, w), [w], gIn([2, 3, 4]))[0]!, {
    extra: { g: gFeed([2, 3, 4]) },
  }),
  c("layer_norm", [[2, 3, 4], [4], [4]], ([x, w, b]) => nn.layerNorm(x, w, b)),
  c(
    "layer_norm_dx",
    [[2, 3, 4], [4]],
    ([x, w]) => grad(nn.layerNorm(x, w, undefined), [x], gIn([2, 3, 4]))[0]!,
    {
      extra: { g: gFeed([2, 3, 4]) },
    },
  ),
  c(
    "layer_norm_dw",
    [[2, 3, 4], [4]],
    ([x, w]) => grad(nn.layerNorm(x, w, undefined), [w], gIn([2, 3, 4]))[0]!,
    {
      extra: { g: gFeed([2, 3, 4]) },
    },
  ),
  c("silu", [[2, 5]], ([x]) => nn.silu(x), { lo: -3, hi: 3 }),
  c("silu_bwd", [[2, 5], [2, 5]], ([x, g]) => grad(nn.silu(x), [x], g)[0]!, { lo: -3, hi: 3 }),
  c("gelu_tanh", [[2, 5]], ([x]) => nn.geluTanh(x), { lo: -3, hi: 3 }),
  c("gelu_tanh_bwd", [[2, 5], [2, 5]], ([x, g]) => grad(nn.geluTanh(x), [x], g)[0]!, { lo: -3, hi: 3 }),
  c("rope", [[2, 2, 3, 4]], ([x]) => rope(x), { extra: pos }),
  c(
    "rope_bwd (any tables)",
    [[2, 2, 3, 4], [2, 1, 3, 4], [2, 1, 3, 4], [2, 2, 3, 4]],
    ([x, cos, sin, g]) => grad(nn.applyRope(x, cos, sin), [x], g)[0]!,
  ),
  c(
    "attention (GQA, padding)",
    [[2, 4, 3, 2], [2, 2, 3, 2], [2, 2, 3, 2]],
    ([q, k, v]) => nn.causalAttention(q, k, v, maskIn()),
    { extra: mask },
  ),
  c(
    "attention (window 2)",
    [[2, 4, 3, 2], [2, 2, 3, 2], [2, 2, 3, 2]],
    ([q, k, v]) => nn.causalAttention(q, k, v, undefined, { window: 2 }),
  ),
  ...(["dq", "dk", "dv"] as const).map((d, wrt) =>
    c(
      `attention_${d}`,
      [[2, 4, 3, 2], [2, 2, 3, 2], [2, 2, 3, 2]],
      (xs) => grad(nn.causalAttention(xs[0], xs[1], xs[2], maskIn()), [xs[wrt]], gIn([2, 4, 3, 2]))[0]!,
      {
        extra: { ...mask, g: gFeed([2, 4, 3, 2]) },
      },
    )
  ),
  c("lm_token_nll", [[2, 3, 4], [7, 4]], ([h, w]) => nll(h, w), { extra: labels }),
  c("lm_token_nll_dh", [[2, 3, 4], [7, 4]], ([h, w]) => grad(nll(h, w), [h], gIn([2, 3]))[0]!, {
    extra: { ...labels, g: gFeed([2, 3]) },
  }),
  c("lm_token_nll_dw", [[2, 3, 4], [7, 4]], ([h, w]) => grad(nll(h, w), [w], gIn([2, 3]))[0]!, {
    extra: { ...labels, g: gFeed([2, 3]) },
  }),
];
