/**
 * @module The op table: every primitive op of the IR with its shape rule, its ONNX lowering
 * (opset 18, standard domain only) and its vector-Jacobian product written in IR ops, side by
 * side (tinygrad's `pm_gradient` lesson: the calculus is reviewed in one place). Because VJPs are
 * IR ops, gradient graphs are differentiable again (Hessian-vector products).
 *
 * This file is long on purpose: it is the single table of derivative rules. Composite layers
 * (LayerNorm, RMSNorm, GELU, RoPE, attention, cross-entropy) live in `nn.ts`.
 */
import { type Attrs, broadcastShapes, type Dim, dimProduct, type DType, normAxis, Tensor } from "./ir.ts";

/** What a lowering may emit: ONNX nodes with named inputs/outputs and typed attributes. */
export interface Emitter {
  /** Emit a node; returns the name of its (first) output. */
  node(opType: string, inputs: string[], attrs?: Record<string, OnnxAttr>, nOutputs?: number): string;
  /** Name of an int64 constant tensor (deduplicated). */
  i64(values: number[], shape?: number[]): string;
  /** Name of the initializer holding a `const` node's value (deduplicated). */
  constant(t: Tensor): string;
}
/** ONNX attribute value in lowering code. */
export type OnnxAttr = { i: number } | { f: number } | { ints: number[] } | { s: string };

/** One row of the op table. */
export interface OpDef {
  /** Output dtype and shape from the inputs and attributes. */
  infer(inputs: readonly Tensor[], attrs: Attrs): { dtype: DType; shape: Dim[] };
  /** Emit ONNX nodes computing `t` from its already-lowered input names. */
  lower(e: Emitter, t: Tensor, ins: string[]): string;
  /** Gradient w.r.t. each input given the output cotangent `g` (undefined: no gradient). */
  vjp?(g: Tensor, t: Tensor): (Tensor | undefined)[];
}

/** The op table, keyed by op name. */
export const OPS: Record<string, OpDef> = {};

/** Build a node of op `op`, inferring dtype and shape from the table. */
export function apply(op: string, inputs: Tensor[], attrs: Attrs = {}): Tensor {
  const def = OPS[op];
  if (!def) throw new Error(`unknown op ${op}`);
  const { dtype, shape } = def.infer(inputs, attrs);
  return new Tensor(op, inputs, attrs, dtype, shape);
}

type Operand = Tensor | number;
const same = (ins: readonly Tensor[]) => ({ dtype: ins[0].dtype, shape: [...ins[0].shape] });
const bcast = (ins: readonly Tensor[]) => ({
  dtype: ins[0].dtype,
  shape: ins.reduce<Dim[]>((s, t) => broadcastShapes(s, t.shape), []),
});
const asBool = (ins: readonly Tensor[]) => ({ dtype: "bool" as DType, shape: bcast(ins).shape });
const simple = (opType: string) => (e: Emitter, _t: Tensor, ins: string[]) => e.node(opType, ins);
const ints = (xs: readonly number[]): OnnxAttr => ({ ints: [...xs] });
const axesOf = (t: Tensor) => (t.attrs.axes as number[]).map((a) => normAxis(a, t.inputs[0].rank));

// ───────────────────────────── sources ─────────────────────────────

/** A graph input (weights are inputs too, so one session serves every step). */
export function input(name: string, dtype: DType, shape: Dim[]): Tensor {
  return new Tensor("input", [], { name }, dtype, shape);
}
OPS.input = {
  infer: (_i, a) => ({ dtype: a.dtype as DType, shape: a.shape as Dim[] }),
  lower: (_e, t) => t.inputName!,
};

/** A constant (float32 by default); `shape` defaults to a scalar. */
export function constant(
  value: number | number[] | Float32Array,
  shape: Dim[] = [],
  dtype: DType = "float32",
): Tensor {
  const vals = typeof value === "number" ? [value] : Array.from(value);
  const data = dtype === "int64" ? BigInt64Array.from(vals.map(BigInt)) : Float32Array.from(vals);
  return new Tensor("const", [], { value: data }, dtype, shape);
}
// Constants are built directly (dtype known) and lowered to initializers by lower.ts.
OPS.const = {
  infer: () => {
    throw new Error("use constant()");
  },
  lower: () => "",
};

function lift(x: Operand, like: Tensor): Tensor {
  return typeof x === "number" ? constant(x, [], like.dtype) : x;
}
function binary(op: string, a: Operand, b: Operand): Tensor {
  const like = typeof a === "number" ? b as Tensor : a;
  return apply(op, [lift(a, like), lift(b, like)]);
}

// ──────────────────────── elementwise arithmetic ────────────────────────

/** Sum the broadcast axes of `g` so it takes `shape` (the VJP of broadcasting). */
export function sumTo(g: Tensor, shape: readonly Dim[]): Tensor {
  const lead = g.rank - shape.length;
  let out = g;
  if (lead > 0) out = reduceSum(out, Array.from({ length: lead }, (_, i) => i), false);
  const axes = shape.flatMap((d, i) => (d === 1 && out.shape[i] !== 1 ? [i] : []));
  if (axes.length) out = reduceSum(out, axes, true);
  return out;
}

/** a + b (broadcasting). */
export const add = (a: Operand, b: Operand): Tensor => binary("add", a, b);
OPS.add = {
  infer: bcast,
  lower: simple("Add"),
  vjp: (g, t) => [sumTo(g, t.inputs[0].shape), sumTo(g, t.inputs[1].shape)],
};
/** a − b (broadcasting). */
export const sub = (a: Operand, b: Operand): Tensor => binary("sub", a, b);
OPS.sub = {
  infer: bcast,
  lower: simple("Sub"),
  vjp: (g, t) => [sumTo(g, t.inputs[0].shape), sumTo(neg(g), t.inputs[1].shape)],
};
/** a · b (broadcasting). */
export const mul = (a: Operand, b: Operand): Tensor => binary("mul", a, b);
OPS.mul = {
  infer: bcast,
  lower: simple("Mul"),
  vjp: (g, t) => {
    const [a, b] = t.inputs;
    return [sumTo(mul(g, b), a.shape), sumTo(mul(g, a), b.shape)];
  },
};
/** a / b (broadcasting). */
export const div = (a: Operand, b: Operand): Tensor => binary("div", a, b);
OPS.div = {
  infer: bcast,
  lower: simple("Div"),
  vjp: (g, t) => {
    const [a, b] = t.inputs;
    const ga = div(g, b);
    return [sumTo(ga, a.shape), sumTo(neg(mul(ga, t)), b.shape)];
  },
};
/** −x. */
export const neg = (x: Tensor): Tensor => apply("neg", [x]);
OPS.neg = { infer: same, lower: simple("Neg"), vjp: (g) => [neg(g)] };
/** eˣ. */
export const exp = (x: Tensor): Tensor => apply("exp", [x]);
OPS.exp = { infer: same, lower: simple("Exp"), vjp: (g, t) => [mul(g, t)] };
/** ln x. */
export const log = (x: Tensor): Tensor => apply("log", [x]);
OPS.log = { infer: same, lower: simple("Log"), vjp: (g, t) => [div(g, t.inputs[0])] };
/** √x. */
export const sqrt = (x: Tensor): Tensor => apply("sqrt", [x]);
OPS.sqrt = { infer: same, lower: simple("Sqrt"), vjp: (g, t) => [div(mul(g, 0.5), t)] };
/** 1/x. */
export const reciprocal = (x: Tensor): Tensor => apply("reciprocal", [x]);
OPS.reciprocal = { infer: same, lower: simple("Reciprocal"), vjp: (g, t) => [neg(mul(g, mul(t, t)))] };
/** tanh x. */
export const tanh = (x: Tensor): Tensor => apply("tanh", [x]);
OPS.tanh = { infer: same, lower: simple("Tanh"), vjp: (g, t) => [mul(g, sub(1, mul(t, t)))] };
/** σ(x) = 1/(1+e⁻ˣ). */
export const sigmoid = (x: Tensor): Tensor => apply("sigmoid", [x]);
OPS.sigmoid = { infer: same, lower: simple("Sigmoid"), vjp: (g, t) => [mul(g, mul(t, sub(1, t)))] };
/** cos x. */
export const cos = (x: Tensor): Tensor => apply("cos", [x]);
OPS.cos = { infer: same, lower: simple("Cos"), vjp: (g, t) => [neg(mul(g, sin(t.inputs[0])))] };
/** sin x. */
export const sin = (x: Tensor): Tensor => apply("sin", [x]);
OPS.sin = { infer: same, lower: simple("Sin"), vjp: (g, t) => [mul(g, cos(t.inputs[0]))] };
/** 1/√x. */
export const rsqrt = (x: Tensor): Tensor => reciprocal(sqrt(x));

// ─────────────────────── comparisons and selection ───────────────────────

/** a == b (bool, no gradient). */
export const equal = (a: Operand, b: Operand): Tensor => binary("equal", a, b);
OPS.equal = { infer: asBool, lower: simple("Equal") };
/** a < b (bool, no gradient). */
export const less = (a: Operand, b: Operand): Tensor => binary("less", a, b);
OPS.less = { infer: asBool, lower: simple("Less") };
/** a ∧ b for bool tensors. */
export const and = (a: Tensor, b: Tensor): Tensor => apply("and", [a, b]);
OPS.and = { infer: asBool, lower: simple("And") };
/** ¬a for a bool tensor. */
export const not = (a: Tensor): Tensor => apply("not", [a]);
OPS.not = { infer: same, lower: simple("Not") };

/** cond ? a : b (broadcasting); gradients flow to the chosen branch only. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const like = typeof a === "number" ? b as Tensor : a;
  return apply("where", [cond, lift(a, like), lift(b, like)]);
}
OPS.where = {
  infer: (ins) => ({ dtype: ins[1].dtype, shape: bcast(ins).shape }),
  lower: simple("Where"),
  vjp: (g, t) => {
    const [c, a, b] = t.inputs;
    return [undefined, sumTo(where(c, g, 0), a.shape), sumTo(where(c, 0, g), b.shape)];
  },
};

const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
};
/** Convert dtype; float→float casts pass gradients back through the reverse cast. */
export const cast = (x: Tensor, dtype: DType): Tensor =>
  x.dtype === dtype ? x : apply("cast", [x], { dtype });
OPS.cast = {
  infer: (ins, a) => ({ dtype: a.dtype as DType, shape: [...ins[0].shape] }),
  lower: (e, t, ins) => e.node("Cast", ins, { to: { i: ONNX_DTYPE[t.dtype] } }),
  vjp: (g, t) => [t.inputs[0].dtype.startsWith("float") ? cast(g, t.inputs[0].dtype) : undefined],
};

// ─────────────────────────────── matmul ───────────────────────────────

/** Swap the last two axes. */
export function transposeLast(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return transpose(x, perm);
}

/** Batched matrix product a @ b with numpy broadcasting of the batch dims (both rank ≥ 2). */
export const matmul = (a: Tensor, b: Tensor): Tensor => apply("matmul", [a, b]);
OPS.matmul = {
  infer: ([a, b]) => {
    if (a.rank < 2 || b.rank < 2) throw new RangeError(`matmul needs rank ≥ 2, got ${a} @ ${b}`);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return { dtype: a.dtype, shape: [...batch, a.dim(-2), b.dim(-1)] };
  },
  lower: simple("MatMul"),
  vjp: (g, t) => {
    const [a, b] = t.inputs;
    const ga = sumTo(matmul(g, transposeLast(b)), a.shape);
    if (b.rank === 2 && a.rank > 2) {
      // x (…,K) @ W (K,N): dW = x_flatᵀ @ g_flat, one GEMM instead of a batch then a sum.
      const k = a.dim(-1) as number, n = g.dim(-1) as number;
      return [ga, matmul(transposeLast(reshape(a, [-1, k])), reshape(g, [-1, n]))];
    }
    return [ga, sumTo(matmul(transposeLast(a), g), b.shape)];
  },
};

// ────────────────────────────── reductions ──────────────────────────────

function reduced(ins: readonly Tensor[], a: Attrs) {
  const x = ins[0];
  const axes = (a.axes as number[]).map((ax) => normAxis(ax, x.rank));
  const shape = x.shape.flatMap((d, i) => (axes.includes(i) ? (a.keepdims ? [1] : []) : [d]));
  return { dtype: x.dtype, shape };
}
const lowerReduce = (opType: string) => (e: Emitter, t: Tensor, ins: string[]) =>
  e.node(opType, [ins[0], e.i64(axesOf(t))], { keepdims: { i: t.attrs.keepdims ? 1 : 0 } });
/** Re-insert reduced axes of `g` (if dropped) and broadcast it back to `x`'s shape. */
function unreduce(g: Tensor, t: Tensor): Tensor {
  const x = t.inputs[0];
  const kept = t.attrs.keepdims ? g : unsqueeze(g, axesOf(t));
  return expandLike(kept, x);
}

/** Σ over `axes`. */
export const reduceSum = (x: Tensor, axes: number[], keepdims = false): Tensor =>
  apply("reduce_sum", [x], { axes, keepdims });
OPS.reduce_sum = { infer: reduced, lower: lowerReduce("ReduceSum"), vjp: (g, t) => [unreduce(g, t)] };

/** Mean over `axes` (the reduced dims must be static). */
export const reduceMean = (x: Tensor, axes: number[], keepdims = false): Tensor =>
  apply("reduce_mean", [x], { axes, keepdims });
OPS.reduce_mean = {
  infer: reduced,
  lower: lowerReduce("ReduceMean"),
  vjp: (g, t) => {
    const n = dimProduct(axesOf(t).map((a) => t.inputs[0].shape[a]));
    if (typeof n !== "number") throw new TypeError(`reduce_mean VJP needs static reduced dims, got ${n}`);
    return [mul(unreduce(g, t), 1 / n)];
  },
};
/** Max over `axes` (no gradient: use for stop-gradient shifts only). */
export const reduceMax = (x: Tensor, axes: number[], keepdims = false): Tensor =>
  apply("reduce_max", [x], { axes, keepdims });
OPS.reduce_max = { infer: reduced, lower: lowerReduce("ReduceMax") };

/** softmax along `axis`. */
export const softmax = (x: Tensor, axis = -1): Tensor => apply("softmax", [x], { axis });
OPS.softmax = {
  infer: same,
  lower: (e, t, ins) => e.node("Softmax", ins, { axis: { i: t.attrs.axis as number } }),
  vjp: (g, t) => {
    const ax = t.attrs.axis as number;
    return [mul(t, sub(g, reduceSum(mul(g, t), [ax], true)))];
  },
};
/** log-softmax along `axis`. */
export const logSoftmax = (x: Tensor, axis = -1): Tensor => apply("log_softmax", [x], { axis });
OPS.log_softmax = {
  infer: same,
  lower: (e, t, ins) => e.node("LogSoftmax", ins, { axis: { i: t.attrs.axis as number } }),
  vjp: (g, t) => [sub(g, mul(exp(t), reduceSum(g, [t.attrs.axis as number], true)))],
};

// ───────────────────────────── movement ops ─────────────────────────────

/** Reshape with ONNX semantics: 0 copies the input dim at that index, −1 is inferred. */
export const reshape = (x: Tensor, shape: number[]): Tensor => apply("reshape", [x], { shape });
OPS.reshape = {
  infer: ([x], a) => {
    const target = a.shape as number[];
    const out: Dim[] = target.map((d, i) => (d === 0 ? x.shape[i] : d));
    const hole = out.indexOf(-1);
    if (hole >= 0) {
      const total = dimProduct(x.shape), known = dimProduct(out.filter((d) => d !== -1));
      out[hole] = typeof total === "number" && typeof known === "number"
        ? total / known
        : divideDim(total, known);
    }
    return { dtype: x.dtype, shape: out };
  },
  lower: (e, t, ins) => e.node("Reshape", [ins[0], e.i64(t.attrs.shape as number[])]),
  vjp: (g, t) => [reshapeLike(g, t.inputs[0])],
};
function divideDim(total: Dim, known: Dim): Dim {
  const parts = String(total).split("*");
  const k = typeof known === "number" ? known : NaN;
  const num = parts.filter((p) => /^\d+$/.test(p)).reduce((p, s) => p * Number(s), 1);
  const sym = parts.filter((p) => !/^\d+$/.test(p));
  if (Number.isFinite(k) && num % k === 0) return dimProduct([num / k, ...sym]);
  return `(${total})/(${known})`;
}

/** Reshape `x` to the runtime shape of `like` (the reshape VJP; works with symbolic dims). */
export const reshapeLike = (x: Tensor, like: Tensor): Tensor => apply("reshape_like", [x, like]);
OPS.reshape_like = {
  infer: ([x, like]) => ({ dtype: x.dtype, shape: [...like.shape] }),
  lower: (e, _t, ins) => e.node("Reshape", [ins[0], e.node("Shape", [ins[1]])]),
  vjp: (g, t) => [reshapeLike(g, t.inputs[0]), undefined],
};

/** Broadcast `x` to the runtime shape of `like` (the reduction VJP). */
export const expandLike = (x: Tensor, like: Tensor): Tensor => apply("expand_like", [x, like]);
OPS.expand_like = {
  infer: ([x, like]) => ({ dtype: x.dtype, shape: broadcastShapes(x.shape, like.shape) }),
  lower: (e, _t, ins) => e.node("Expand", [ins[0], e.node("Shape", [ins[1]])]),
  vjp: (g, t) => [sumTo(g, t.inputs[0].shape), undefined],
};

/** Broadcast `x` against a static `shape` (numpy rules, like ONNX Expand). */
export const expand = (x: Tensor, shape: number[]): Tensor => apply("expand", [x], { shape });
OPS.expand = {
  infer: ([x], a) => ({ dtype: x.dtype, shape: broadcastShapes(x.shape, a.shape as number[]) }),
  lower: (e, t, ins) => e.node("Expand", [ins[0], e.i64(t.attrs.shape as number[])]),
  vjp: (g, t) => [sumTo(g, t.inputs[0].shape)],
};

/** Insert size-1 axes at `axes` (positions in the output). */
export const unsqueeze = (x: Tensor, axes: number[]): Tensor => apply("unsqueeze", [x], { axes });
OPS.unsqueeze = {
  infer: ([x], a) => {
    const r = x.rank + (a.axes as number[]).length;
    const axes = (a.axes as number[]).map((ax) => normAxis(ax, r));
    const rest = [...x.shape];
    return {
      dtype: x.dtype,
      shape: Array.from({ length: r }, (_, i) => (axes.includes(i) ? 1 : rest.shift()!)),
    };
  },
  lower: (e, t, ins) => e.node("Unsqueeze", [ins[0], e.i64(t.attrs.axes as number[])]),
  vjp: (g, t) => [reshapeLike(g, t.inputs[0])],
};
/** Drop size-1 axes at `axes`. */
export const squeeze = (x: Tensor, axes: number[]): Tensor => apply("squeeze", [x], { axes });
OPS.squeeze = {
  infer: ([x], a) => {
    const axes = (a.axes as number[]).map((ax) => normAxis(ax, x.rank));
    return { dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)) };
  },
  lower: (e, t, ins) => e.node("Squeeze", [ins[0], e.i64(axesOf(t))]),
  vjp: (g, t) => [reshapeLike(g, t.inputs[0])],
};

/** Permute axes. */
export const transpose = (x: Tensor, perm: number[]): Tensor => apply("transpose", [x], { perm });
OPS.transpose = {
  infer: ([x], a) => ({ dtype: x.dtype, shape: (a.perm as number[]).map((p) => x.shape[p]) }),
  lower: (e, t, ins) => e.node("Transpose", ins, { perm: ints(t.attrs.perm as number[]) }),
  vjp: (g, t) => {
    const perm = t.attrs.perm as number[];
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [transpose(g, inv)];
  },
};

/** x[…, start:end, …] along one axis whose size is static. */
export const slice = (x: Tensor, axis: number, start: number, end: number): Tensor =>
  apply("slice", [x], { axis: normAxis(axis, x.rank), start, end });
OPS.slice = {
  infer: ([x], a) => {
    const shape = [...x.shape];
    shape[a.axis as number] = (a.end as number) - (a.start as number);
    return { dtype: x.dtype, shape };
  },
  lower: (e, t, ins) => {
    const { axis, start, end } = t.attrs as { axis: number; start: number; end: number };
    return e.node("Slice", [ins[0], e.i64([start]), e.i64([end]), e.i64([axis])]);
  },
  vjp: (g, t) => {
    const { axis, start, end } = t.attrs as { axis: number; start: number; end: number };
    const size = t.inputs[0].shape[axis];
    if (typeof size !== "number") throw new TypeError(`slice VJP needs a static axis, got ${size}`);
    return [padAxis(g, axis, start, size - end)];
  },
};
/** Zero-pad one axis with `before` and `after` entries. */
export const padAxis = (x: Tensor, axis: number, before: number, after: number): Tensor =>
  apply("pad_axis", [x], { axis: normAxis(axis, x.rank), before, after });
OPS.pad_axis = {
  infer: ([x], a) => {
    const shape = [...x.shape];
    const d = shape[a.axis as number];
    shape[a.axis as number] = typeof d === "number"
      ? d + (a.before as number) + (a.after as number)
      : `${d}+pad`;
    return { dtype: x.dtype, shape };
  },
  lower: (e, t, ins) => {
    const { axis, before, after } = t.attrs as { axis: number; before: number; after: number };
    // Full-rank pads (no `axes` input): onnxruntime's optimizers mis-infer Pad with axes (issue 12).
    const r = t.rank, pads = new Array<number>(2 * r).fill(0);
    pads[axis] = before;
    pads[r + axis] = after;
    return e.node("Pad", [ins[0], e.i64(pads)]);
  },
  vjp: (g, t) => {
    const { axis, before } = t.attrs as { axis: number; before: number };
    const n = t.inputs[0].shape[axis] as number;
    return [slice(g, axis, before, before + n)];
  },
};
/** Concatenate along an axis (sizes along it must be static for the VJP). */
export const concat = (xs: Tensor[], axis: number): Tensor =>
  apply("concat", xs, { axis: normAxis(axis, xs[0].rank) });
OPS.concat = {
  infer: (ins, a) => {
    const axis = a.axis as number;
    const shape = [...ins[0].shape];
    shape[axis] = ins.every((x) => typeof x.shape[axis] === "number")
      ? ins.reduce((s, x) => s + (x.shape[axis] as number), 0)
      : ins.map((x) => x.shape[axis]).join("+");
    return { dtype: ins[0].dtype, shape };
  },
  lower: (e, t, ins) => e.node("Concat", ins, { axis: { i: t.attrs.axis as number } }),
  vjp: (g, t) => {
    const axis = t.attrs.axis as number;
    let off = 0;
    return t.inputs.map((x) => {
      const n = x.shape[axis] as number;
      return slice(g, axis, off, off += n);
    });
  },
};

// ─────────────────────────── gather / scatter ───────────────────────────

/** Rows of `table` [V, …] at integer `ids` [...] → [..., …] (embedding lookup). */
export const gatherRows = (table: Tensor, ids: Tensor): Tensor => apply("gather_rows", [table, ids]);
OPS.gather_rows = {
  infer: ([w, ids]) => ({ dtype: w.dtype, shape: [...ids.shape, ...w.shape.slice(1)] }),
  lower: (e, _t, ins) => e.node("Gather", ins, { axis: { i: 0 } }),
  vjp: (g, t) => [scatterAddRows(g, t.inputs[1], t.inputs[0]), undefined],
};
/** Zeros shaped like `like` [V, …] with `g` [..., …] added at rows `ids` (the embedding VJP). */
export const scatterAddRows = (g: Tensor, ids: Tensor, like: Tensor): Tensor =>
  apply("scatter_add_rows", [g, ids, like]);
OPS.scatter_add_rows = {
  infer: ([g, , like]) => ({ dtype: g.dtype, shape: [...like.shape] }),
  // onnxruntime runs ScatterND's updates in parallel (CPU, and WASM with threads), so under reduction
  // "add" rows with the same id race and updates are lost. The rows of each distinct id are summed first,
  // a one-hot [U, N] matmul over the Unique ids (U ≤ N rows), and those sums, whose ids are distinct, are
  // scattered: U·N·row multiply-adds, deterministic.
  lower: (e, t, [g, ids, like]) => {
    const r = t.inputs[1].rank;
    const flat = e.node("Reshape", [
      t.inputs[1].dtype === "int64" ? ids : e.node("Cast", [ids], { to: { i: 7 } }),
      e.i64([-1]),
    ]);
    const uniq = e.node("Unique", [flat], { sorted: { i: 1 } });
    const hit = e.node("Equal", [
      e.node("Unsqueeze", [uniq, e.i64([1])]),
      e.node("Unsqueeze", [flat, e.i64([0])]),
    ]);
    const oneHot = e.node("Cast", [hit], { to: { i: ONNX_DTYPE[t.dtype] } });
    const sums = e.node("MatMul", [oneHot, e.node("Flatten", [g], { axis: { i: r } })]); // [U, row]
    const rowShape = e.node("Shape", [like], { start: { i: 1 } });
    const updates = e.node("Reshape", [sums, e.node("Concat", [e.i64([-1]), rowShape], { axis: { i: 0 } })]);
    const zeros = e.node("ConstantOfShape", [e.node("Shape", [like])]); // default value: float 0
    return e.node("ScatterND", [zeros, e.node("Unsqueeze", [uniq, e.i64([-1])]), updates]);
  },
  vjp: (gg, t) => [gatherRows(gg, t.inputs[1]), undefined, undefined],
};

/** x[..., idx[...]] along the last axis: [..., V] × int [...] → [...]. */
export const gatherLast = (x: Tensor, idx: Tensor): Tensor => apply("gather_last", [x, idx]);
OPS.gather_last = {
  infer: ([x]) => ({ dtype: x.dtype, shape: x.shape.slice(0, -1) }),
  lower: (e, t, [x, idx]) => {
    const u = e.node("Unsqueeze", [idx, e.i64([-1])]);
    const picked = e.node("GatherElements", [x, u], { axis: { i: t.inputs[0].rank - 1 } });
    return e.node("Squeeze", [picked, e.i64([-1])]);
  },
  vjp: (g, t) => [scatterLast(g, t.inputs[1], t.inputs[0]), undefined],
};
/** Zeros like `like` [..., V] with g[...] added at idx[...] on the last axis (gather_last's VJP). */
export const scatterLast = (g: Tensor, idx: Tensor, like: Tensor): Tensor =>
  apply("scatter_last", [g, idx, like]);
OPS.scatter_last = {
  infer: ([g, , like]) => ({ dtype: g.dtype, shape: [...like.shape] }),
  lower: (e, t, [g, idx, like]) => {
    const zeros = e.node("ConstantOfShape", [e.node("Shape", [like])]); // default value: float 0;
    const ax = e.i64([-1]);
    const axis = t.inputs[2].rank - 1;
    return e.node("ScatterElements", [zeros, e.node("Unsqueeze", [idx, ax]), e.node("Unsqueeze", [g, ax])], {
      axis: { i: axis },
      reduction: { s: "add" },
    });
  },
  vjp: (gg, t) => [gatherLast(gg, t.inputs[1]), undefined, undefined],
};

// ─────────────────────────── block boundaries ───────────────────────────

/**
 * Identity that marks the input of transformer block `block` (model builders put one before each
 * block and one after the last). The recomputation transform (`recompute.ts`) keeps only these for
 * the backward pass and recomputes each block's forward from its boundary.
 */
export const checkpoint = (x: Tensor, block: number): Tensor => apply("checkpoint", [x], { block });
OPS.checkpoint = { infer: same, lower: simple("Identity"), vjp: (g) => [g] };

// ──────────────────────────────── masks ────────────────────────────────

/**
 * Causal mask [Tq, Tk] (bool, true = may attend) for queries `q` and keys `k` whose sequence axis
 * is `axis`: query i sits at absolute position p = Tk − Tq + i (a KV cache of Tk − Tq entries precedes)
 * and may attend key j ≤ p; with `window` > 0 (sliding-window attention) also only j > p − window.
 */
export const causalMask = (q: Tensor, k: Tensor, axis = -2, window = 0): Tensor =>
  apply("causal_mask", [q, k], { axis, window });
OPS.causal_mask = {
  infer: ([q, k], a) => ({ dtype: "bool", shape: [q.dim(a.axis as number), k.dim(a.axis as number)] }),
  lower: (e, t, [q, k]) => {
    const ax = e.i64([normAxis(t.attrs.axis as number, t.inputs[0].rank)]);
    const tq = e.node("Gather", [e.node("Shape", [q]), ax]);
    const tk = e.node("Gather", [e.node("Shape", [k]), ax]);
    const one = e.i64([1], []), zero = e.i64([0], []);
    const qi = e.node("Add", [
      e.node("Range", [zero, e.node("Squeeze", [tq]), one]),
      e.node("Sub", [tk, tq]),
    ]);
    const kj = e.node("Range", [zero, e.node("Squeeze", [tk]), one]);
    // allowed[i, j] = kj[j] <= qpos[i]  ⇔  not (kj[j] > qpos[i])
    const kRow = e.node("Unsqueeze", [kj, e.i64([0])]), qCol = e.node("Unsqueeze", [qi, e.i64([1])]);
    const causal = e.node("Not", [e.node("Greater", [kRow, qCol])]);
    const window = (t.attrs.window as number | undefined) ?? 0;
    if (window <= 0) return causal;
    // and kj[j] > qpos[i] − window
    return e.node("And", [causal, e.node("Greater", [kRow, e.node("Sub", [qCol, e.i64([window], [])])])]);
  },
};

// ────────────────────────────── randomness ──────────────────────────────

/**
 * Bernoulli keep-mask (bool, P(true) = `keep`) shaped like `like`, from an int64 scalar `seed`
 * input: a counter-based hash of (element index, seed), so masks are reproducible per step on
 * every backend and need no host-side random tensors. No gradient (a mask is a constant).
 */
export const keepMask = (like: Tensor, seed: Tensor, keep: number): Tensor =>
  apply("keep_mask", [like, seed], { keep });
OPS.keep_mask = {
  infer: ([like]) => ({ dtype: "bool", shape: [...like.shape] }),
  lower: (e, t, [like, seed]) => {
    const shape = e.node("Shape", [like]);
    const n = e.node("ReduceProd", [shape], { keepdims: { i: 0 } });
    const idx = e.node("Range", [e.i64([0], []), n, e.i64([1], [])]);
    // h = idx·A + seed·B (int64, wrapping); u = ((h >> 33) mod 2^24) / 2^24 via integer division.
    const h = e.node("Add", [
      e.node("Mul", [idx, e.i64([0x5851f42d], [])]),
      e.node("Mul", [seed, e.i64([0x14057b7e], [])]),
    ]);
    const h2 = e.node("Mul", [
      e.node("Add", [h, e.node("Div", [h, e.i64([65537], [])])]),
      e.i64([0x2545f491], []),
    ]);
    const bits = e.node("Mod", [e.node("Div", [h2, e.i64([1 << 16], [])]), e.i64([1 << 24], [])]);
    const thresh = e.i64([Math.round((t.attrs.keep as number) * (1 << 24))], []);
    return e.node("Reshape", [e.node("Less", [bits, thresh]), shape]);
  },
};
