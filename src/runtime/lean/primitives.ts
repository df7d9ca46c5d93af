/**
 * @module The primitive ops of `src/graph/ops.ts` on the lean kernels: elementwise ops with broadcast
 * strides, movement ops as strided copies (reshapes are views), reductions over contiguous axis runs,
 * matmul as one (batched) GEMM with transposes folded into it, gathers, scatters and masks.
 */
import type { Tensor } from "../../graph/ir.ts";
import { normAxis } from "../../graph/ir.ts";
import { BINARY, DTYPE, REDUCE, UNARY } from "./contract.ts";
import {
  type AddrEnv,
  broadcastStrides,
  dtypeCode,
  elemBytes,
  LEAN_OPS,
  type LeanOp,
  numelOf,
  type ShapeEnv,
  stridesOf,
} from "./op.ts";

const sameSize = (t: Tensor, env: ShapeEnv) =>
  t.inputs.flatMap((x, i) =>
    numelOf(env.shape(x)) === numelOf(env.shape(t)) && elemBytes(x.dtype) === elemBytes(t.dtype) ? [i] : []
  );

// ───────────────────────────── elementwise ─────────────────────────────

const unary = (code: number): LeanOp => ({
  inPlace: () => [0],
  build: (t, e) => {
    const x = e.addr(t.inputs[0]), out = e.addr(t), n = numelOf(e.shape(t));
    return () => e.k.unary(code, x, out, n);
  },
});
for (
  const [op, code] of [
    ["neg", UNARY.NEG],
    ["exp", UNARY.EXP],
    ["log", UNARY.LOG],
    ["sqrt", UNARY.SQRT],
    ["reciprocal", UNARY.RECIPROCAL],
    ["tanh", UNARY.TANH],
    ["sigmoid", UNARY.SIGMOID],
    ["cos", UNARY.COS],
    ["sin", UNARY.SIN],
  ] as const
) LEAN_OPS[op] = unary(code);

const binary = (code: number): LeanOp => ({
  inPlace: sameSize,
  build: (t, e) => {
    const [a, b] = t.inputs, shape = e.shape(t);
    const sa = broadcastStrides(e.shape(a), shape), sb = broadcastStrides(e.shape(b), shape);
    const pa = e.addr(a), pb = e.addr(b), out = e.addr(t), dt = dtypeCode(a.dtype);
    return () => e.k.binary(code, dt, pa, pb, out, shape, sa, sb);
  },
});
LEAN_OPS.add = binary(BINARY.ADD);
LEAN_OPS.sub = binary(BINARY.SUB);
LEAN_OPS.mul = binary(BINARY.MUL);
LEAN_OPS.div = binary(BINARY.DIV);
LEAN_OPS.equal = binary(BINARY.EQUAL);
LEAN_OPS.less = binary(BINARY.LESS);
LEAN_OPS.and = binary(BINARY.AND);
LEAN_OPS.not = {
  inPlace: () => [0],
  build: (t, e) => {
    const x = e.addr(t.inputs[0]), out = e.addr(t), n = numelOf(e.shape(t));
    return () => e.k.not(x, out, n);
  },
};
LEAN_OPS.where = {
  inPlace: (t, env) => sameSize(t, env).filter((i) => i > 0),
  build: (t, e) => {
    const [c, a, b] = t.inputs, shape = e.shape(t);
    const sc = broadcastStrides(e.shape(c), shape), sa = broadcastStrides(e.shape(a), shape);
    const sb = broadcastStrides(e.shape(b), shape);
    const pc = e.addr(c), pa = e.addr(a), pb = e.addr(b), out = e.addr(t), dt = dtypeCode(t.dtype);
    return () => e.k.where(pc, pa, pb, out, dt, shape, sc, sa, sb);
  },
};
LEAN_OPS.cast = {
  inPlace: sameSize,
  build: (t, e) => {
    const x = t.inputs[0], from = dtypeCode(x.dtype), to = dtypeCode(t.dtype);
    const px = e.addr(x), out = e.addr(t), n = numelOf(e.shape(t));
    return () => e.k.cast(px, from, out, to, n);
  },
};

// ─────────────────────────────── movement ───────────────────────────────

const view: LeanOp = { view: 0, build: () => () => {} };
for (const op of ["reshape", "reshape_like", "squeeze", "unsqueeze", "checkpoint"]) LEAN_OPS[op] = view;

/** out = x read with `strides` from `offset` (elements), out contiguous in t's shape. */
const strided = (
  t: Tensor,
  e: AddrEnv,
  strides: number[],
  offset = 0,
): () => void => {
  const x = e.addr(t.inputs[0]), out = e.addr(t), dt = dtypeCode(t.dtype), shape = e.shape(t);
  return () => e.k.copyStrided(x, out, dt, shape, strides, offset);
};
const expandOp: LeanOp = {
  build: (t, e) => strided(t, e, broadcastStrides(e.shape(t.inputs[0]), e.shape(t))),
};
LEAN_OPS.expand = expandOp;
LEAN_OPS.expand_like = expandOp;
LEAN_OPS.transpose = {
  build: (t, e) => {
    const own = stridesOf(e.shape(t.inputs[0]));
    return strided(t, e, (t.attrs.perm as number[]).map((p) => own[p]));
  },
};
LEAN_OPS.slice = {
  build: (t, e) => {
    const { axis, start } = t.attrs as { axis: number; start: number };
    const own = stridesOf(e.shape(t.inputs[0]));
    return strided(t, e, own, start * own[axis]);
  },
};
LEAN_OPS.pad_axis = {
  build: (t, e) => {
    const { axis, before } = t.attrs as { axis: number; before: number };
    const x = t.inputs[0], out = e.addr(t), dt = dtypeCode(t.dtype), n = numelOf(e.shape(t));
    const own = stridesOf(e.shape(t)), px = e.addr(x), inner = e.shape(x);
    return () => {
      e.k.fill(out, dt, n, 0);
      e.k.copyStridedOut(px, out, dt, inner, own, before * own[axis]);
    };
  },
};
LEAN_OPS.concat = {
  build: (t, e) => {
    const axis = t.attrs.axis as number,
      out = e.addr(t),
      dt = dtypeCode(t.dtype),
      own = stridesOf(e.shape(t));
    let at = 0;
    const parts = t.inputs.map((x) => {
      const s = e.shape(x), off = at * own[axis];
      at += s[axis];
      return { p: e.addr(x), s, off };
    });
    return () => {
      for (const { p, s, off } of parts) e.k.copyStridedOut(p, out, dt, s, own, off);
    };
  },
};

// ────────────────────────────── reductions ──────────────────────────────

/** Contiguous runs of sorted axes: [[0, 1], [3]] for axes {0, 1, 3}. */
function runs(axes: number[]): number[][] {
  const out: number[][] = [];
  for (const a of [...axes].sort((x, y) => x - y)) {
    const last = out[out.length - 1];
    if (last && last[last.length - 1] === a - 1) last.push(a);
    else out.push([a]);
  }
  return out;
}
const reduceCode = { reduce_sum: REDUCE.SUM, reduce_mean: REDUCE.MEAN, reduce_max: REDUCE.MAX } as const;
/** Bytes of the intermediate of a reduction over several axis runs (none for one run). */
function reduceScratch(t: Tensor, env: ShapeEnv): number {
  const shape = [...env.shape(t.inputs[0])];
  const r = runs((t.attrs.axes as number[]).map((a) => normAxis(a, shape.length)));
  if (r.length === 1) return 0;
  // runs are reduced from the last to the first; the largest intermediate is the first one
  const last = r[r.length - 1];
  return 4 * numelOf(shape) / numelOf(last.map((a) => shape[a]));
}
for (const op of ["reduce_sum", "reduce_mean", "reduce_max"] as const) {
  LEAN_OPS[op] = {
    scratch: reduceScratch,
    build: (t, e) => {
      const shape = [...e.shape(t.inputs[0])], code = reduceCode[op];
      const r = runs((t.attrs.axes as number[]).map((a) => normAxis(a, shape.length))).reverse();
      if (r.length > 2) throw new Error(`lean: ${op} over more than two separate axis runs`);
      const calls: [number, number, number][] = [];
      let cur = shape;
      for (const run of r) {
        const outer = numelOf(cur.slice(0, run[0])), red = numelOf(run.map((a) => cur[a]));
        const inner = numelOf(cur.slice(run[run.length - 1] + 1));
        calls.push([outer, red, inner]);
        cur = cur.map((d, i) => (run.includes(i) ? 1 : d));
      }
      const x = e.addr(t.inputs[0]), out = e.addr(t), tmp = e.scratch;
      if (calls.length === 1) return () => e.k.reduce(code, x, out, ...calls[0]);
      return () => {
        e.k.reduce(code, x, tmp, ...calls[0]);
        e.k.reduce(code, tmp, out, ...calls[1]);
      };
    },
  };
}
/**
 * Softmax / log-softmax along any axis: along the last one in place; along another, the axis is moved
 * last in scratch (a strided copy), normalised there, and moved back.
 */
const softmaxOp = (log: boolean): LeanOp => {
  const inner = (t: Tensor, env: ShapeEnv) => {
    const s = env.shape(t), axis = normAxis(t.attrs.axis as number, s.length);
    return { s, axis, last: axis === s.length - 1 };
  };
  return {
    inPlace: (t, env) => (inner(t, env).last ? [0] : []),
    scratch: (t, env) => (inner(t, env).last ? 0 : 4 * numelOf(env.shape(t))),
    build: (t, e) => {
      const { s, axis, last } = inner(t, e), x = e.addr(t.inputs[0]), out = e.addr(t);
      const n = s[axis], rows = numelOf(s) / n;
      const f = (src: number, dst: number) =>
        log ? e.k.logSoftmax(src, dst, rows, n) : e.k.softmax(src, dst, rows, n);
      if (last) return () => f(x, out);
      const own = stridesOf(s), perm = [...s.keys()].filter((d) => d !== axis).concat(axis);
      const moved = perm.map((d) => s[d]), movedStrides = stridesOf(moved);
      const back = s.map((_, d) => movedStrides[perm.indexOf(d)]), tmp = e.scratch;
      return () => {
        e.k.copyStrided(x, tmp, DTYPE.F32, moved, perm.map((d) => own[d]), 0);
        f(tmp, tmp);
        e.k.copyStrided(tmp, out, DTYPE.F32, s, back, 0);
      };
    },
  };
};
LEAN_OPS.softmax = softmaxOp(false);
LEAN_OPS.log_softmax = softmaxOp(true);

// ─────────────────────────────── matmul ───────────────────────────────

/**
 * One GEMM call (or a batch of them) for a (…,M,K) @ (…,K,N), reading each operand through its folded
 * transposes: a 2-D right operand (a weight) is shared across the left's batch, which folds into M
 * when the left is not transposed.
 */
export function matmulCall(t: Tensor, e: ShapeEnv, weight?: { bits: number }): {
  a: { base: Tensor; trans: boolean };
  b: { base: Tensor; trans: boolean };
  m: number;
  n: number;
  k: number;
  batch: number;
  strideA: number;
  strideB: number;
  strideC: number;
} {
  const [ta, tb] = t.inputs, sa = e.shape(ta), sb = e.shape(tb), so = e.shape(t);
  const a = e.operand(ta), b = e.operand(tb);
  const M = sa[sa.length - 2], K = sa[sa.length - 1], N = sb[sb.length - 1];
  const batchA = sa.slice(0, -2), batchB = sb.slice(0, -2), batchO = so.slice(0, -2);
  const nb = numelOf(batchO);
  if (batchB.length === 0 || numelOf(batchB) === 1) {
    if (!a.trans) return { a, b, m: nb * M, n: N, k: K, batch: 1, strideA: 0, strideB: 0, strideC: 0 };
    return { a, b, m: M, n: N, k: K, batch: nb, strideA: M * K, strideB: 0, strideC: M * N };
  }
  if (weight) throw new Error("lean: a quantized weight must be a 2-D matmul operand");
  const same = (x: readonly number[]) => numelOf(x) === nb && x.length === batchO.length;
  if ((batchA.length === 0 || numelOf(batchA) === 1) && same(batchB)) {
    return { a, b, m: M, n: N, k: K, batch: nb, strideA: 0, strideB: K * N, strideC: M * N };
  }
  if (same(batchA) && same(batchB)) {
    return { a, b, m: M, n: N, k: K, batch: nb, strideA: M * K, strideB: K * N, strideC: M * N };
  }
  return { a, b, m: M, n: N, k: K, batch: -1, strideA: M * K, strideB: K * N, strideC: M * N };
}

/** Element offsets of each output batch matrix's operands under numpy broadcasting of the batch dims. */
function broadcastBatches(
  sa: readonly number[],
  sb: readonly number[],
  so: readonly number[],
): [number, number][] {
  const bo = so.slice(0, -2),
    ma = sa[sa.length - 2] * sa[sa.length - 1],
    mb = sb[sb.length - 2] * sb[sb.length - 1];
  const stA = broadcastStrides(sa.slice(0, -2), bo), stB = broadcastStrides(sb.slice(0, -2), bo);
  const out: [number, number][] = [];
  for (let i = 0; i < numelOf(bo); i++) {
    let r = i, oa = 0, ob = 0;
    for (let d = bo.length - 1; d >= 0; d--) {
      const x = r % bo[d];
      r = (r - x) / bo[d];
      oa += x * stA[d];
      ob += x * stB[d];
    }
    out.push([oa * ma, ob * mb]);
  }
  return out;
}

LEAN_OPS.matmul = {
  scratch: (t, env) => {
    const c = matmulCall(t, env);
    return env.k.gemmScratchBytes(c.m, c.n, c.k, c.a.trans, c.b.trans);
  },
  build: (t, e) => {
    const c = matmulCall(t, e), out = e.addr(t);
    const pa = e.addr(c.a.base), pb = e.addr(c.b.base), scratch = e.scratch;
    if (c.batch < 0) {
      // partly broadcast batch dims: one GEMM per output matrix
      const offs = broadcastBatches(e.shape(t.inputs[0]), e.shape(t.inputs[1]), e.shape(t));
      return () =>
        offs.forEach(([oa, ob], i) =>
          e.k.gemm(
            pa + 4 * oa,
            pb + 4 * ob,
            out + 4 * i * c.strideC,
            0,
            c.m,
            c.n,
            c.k,
            c.a.trans,
            c.b.trans,
            1,
            0,
            0,
            0,
            1,
            false,
            scratch,
          )
        );
    }
    return () =>
      e.k.gemm(
        pa,
        pb,
        out,
        0,
        c.m,
        c.n,
        c.k,
        c.a.trans,
        c.b.trans,
        c.batch,
        c.strideA,
        c.strideB,
        c.strideC,
        1,
        false,
        scratch,
      );
  },
};

// ─────────────────────────── gathers and scatters ───────────────────────────

LEAN_OPS.gather_rows = {
  build: (t, e) => {
    const [table, ids] = t.inputs, ts = e.shape(table);
    const rowLen = numelOf(ts.slice(1)), nIds = numelOf(e.shape(ids));
    const pt = e.addr(table), pi = e.addr(ids), out = e.addr(t);
    return () => e.k.gatherRows(pt, pi, out, nIds, rowLen, ts[0]);
  },
};
LEAN_OPS.scatter_add_rows = {
  build: (t, e) => {
    const [g, ids] = t.inputs, s = e.shape(t);
    const rowLen = numelOf(s.slice(1)), nIds = numelOf(e.shape(ids));
    const pg = e.addr(g), pi = e.addr(ids), out = e.addr(t), n = numelOf(s);
    return () => {
      e.k.fill(out, DTYPE.F32, n, 0);
      e.k.scatterAddRows(pg, pi, out, nIds, rowLen, s[0]);
    };
  },
};
LEAN_OPS.gather_last = {
  build: (t, e) => {
    const [x, idx] = t.inputs, s = e.shape(x), n = s[s.length - 1];
    const px = e.addr(x), pi = e.addr(idx), out = e.addr(t), rows = numelOf(s) / n;
    return () => e.k.gatherLast(px, pi, out, rows, n);
  },
};
LEAN_OPS.scatter_last = {
  build: (t, e) => {
    const [g, idx] = t.inputs, s = e.shape(t), n = s[s.length - 1], total = numelOf(s);
    const pg = e.addr(g), pi = e.addr(idx), out = e.addr(t);
    return () => {
      e.k.fill(out, DTYPE.F32, total, 0);
      e.k.scatterLast(pg, pi, out, total / n, n);
    };
  },
};

// ──────────────────────────────── masks ────────────────────────────────

LEAN_OPS.causal_mask = {
  build: (t, e) => {
    if (((t.attrs.window as number | undefined) ?? 0) > 0) {
      throw new Error("lean: causal_mask with a sliding window (attention runs it fused instead)");
    }
    const [tq, tk] = e.shape(t), out = e.addr(t);
    return () => e.k.causalMask(out, tq, tk);
  },
};
LEAN_OPS.keep_mask = {
  build: (t, e) => {
    const out = e.addr(t), n = numelOf(e.shape(t)), keep = t.attrs.keep as number, seed = t.inputs[1];
    return () => e.k.keepMask(out, n, Number(e.hostInt(seed)), keep);
  },
};
