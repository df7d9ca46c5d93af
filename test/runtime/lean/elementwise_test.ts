/** Lean elementwise, strided, reduction and softmax kernels: WASM equals the TS reference. */
import assert from "node:assert/strict";
import { BINARY, DTYPE, REDUCE, UNARY } from "../../../src/runtime/lean/kernels.ts";
import { AdamW } from "../../../src/optim/adamw.ts";
import { randn } from "../../_util.ts";
import { pair } from "./_harness.ts";

const SIZES = [1, 3, 4, 7, 16, 33, 1001];
const RANGES: Record<number, [number, number]> = {
  [UNARY.NEG]: [-5, 5],
  [UNARY.EXP]: [-30, 30],
  [UNARY.LOG]: [1e-6, 100],
  [UNARY.SQRT]: [0, 100],
  [UNARY.RECIPROCAL]: [0.1, 10],
  [UNARY.TANH]: [-6, 6],
  [UNARY.SIGMOID]: [-20, 20],
  [UNARY.COS]: [-3000, 3000],
  [UNARY.SIN]: [-3000, 3000],
  [UNARY.SILU]: [-20, 20],
  [UNARY.GELU_TANH]: [-8, 8],
  [UNARY.COPY]: [-5, 5],
};

Deno.test("lean unary: every op matches the reference (odd, tiny and long sizes, in place)", async () => {
  const p = await pair(8);
  for (const [name, op] of Object.entries(UNARY)) {
    for (const n of SIZES) {
      p.reset();
      const [lo, hi] = RANGES[op];
      const x = p.rnd(n, lo, hi), out = p.junk(4 * n, 4);
      p.both((k) => k.unary(op, x, out, n));
      p.close(out, n, `${name} n=${n}`, 1e-6, 2e-6);
      p.both((k) => k.unary(op, x, x, n)); // in place
      p.close(x, n, `${name} in place n=${n}`, 1e-6, 2e-6);
    }
  }
  // small |x| where tanh's polynomial branch and σ's saturation matter
  p.reset();
  const x = p.put(new Float32Array([1e-7, -3e-4, 0.3, 0.62, 0.63, -0.7, 40, -40, 90, -90]));
  for (const op of [UNARY.TANH, UNARY.SIGMOID, UNARY.SILU, UNARY.GELU_TANH]) {
    const out = p.alloc(40);
    p.both((k) => k.unary(op, x, out, 10));
    p.close(out, 10, `op ${op} edge values`, 1e-30, 2e-6);
  }
});

Deno.test("lean unary: special values (underflow to 0, ±∞, NaN) follow IEEE", async () => {
  const p = await pair(1);
  const x = p.put(new Float32Array([-1e9, -88, 0, 100, -1, Infinity, NaN, 1e-40]));
  const out = p.alloc(32);
  p.wasm.unary(UNARY.EXP, x, out, 8);
  const e = p.f32(out, 8, "wasm");
  assert.deepEqual([e[0], e[2], e[3], e[5]], [0, 1, Infinity, Infinity]);
  assert.ok(Number.isNaN(e[6]) && e[1] < 1e-38 + 1e-45);
  p.wasm.unary(UNARY.LOG, x, out, 8);
  const l = p.f32(out, 8, "wasm");
  assert.equal(l[2], -Infinity);
  assert.ok(Number.isNaN(l[0]) && Number.isNaN(l[4]) && Number.isNaN(l[6]));
  assert.equal(l[5], Infinity);
  assert.ok(Math.abs(l[7] - Math.log(1e-40)) < 1e-4, `log of a subnormal: ${l[7]}`);
  assert.throws(() => p.wasm.unary(99, x, out, 8), /unsupported/);
});

Deno.test("lean unaryBackward: SiLU and tanh-GELU derivatives match the reference and finite differences", async () => {
  const p = await pair(1);
  for (const op of [UNARY.SILU, UNARY.GELU_TANH]) {
    for (const n of SIZES) {
      p.reset();
      const g = p.rnd(n), x = p.rnd(n, -8, 8), out = p.junk(4 * n);
      p.both((k) => k.unaryBackward(op, g, x, out, n));
      p.close(out, n, `op ${op} n=${n}`, 1e-6, 2e-6);
    }
    // reference vs central differences of the reference forward (f64 through Float32 rounding)
    p.reset();
    const n = 9, xs = Float32Array.from({ length: n }, (_, i) => -4 + i), h = 1e-2;
    const x = p.put(xs), g = p.put(new Float32Array(n).fill(1)), out = p.alloc(4 * n);
    const xp = p.put(xs.map((v) => v + h)),
      xm = p.put(xs.map((v) => v - h)),
      yp = p.alloc(4 * n),
      ym = p.alloc(4 * n);
    p.ref.unaryBackward(op, g, x, out, n);
    p.ref.unary(op, xp, yp, n);
    p.ref.unary(op, xm, ym, n);
    const got = p.f32(out, n, "ref"), fp = p.f32(yp, n, "ref"), fm = p.f32(ym, n, "ref");
    got.forEach((d, i) =>
      assert.ok(Math.abs(d - (fp[i] - fm[i]) / (2 * h)) < 2e-3, `op ${op} x=${xs[i]}: ${d}`)
    );
  }
  assert.throws(() => p.wasm.unaryBackward(UNARY.EXP, 0, 0, 0, 0), /unsupported/);
});

Deno.test("lean binary: f32 fast paths and general broadcasting match the reference, in place too", async () => {
  const p = await pair(4);
  // [shape, a strides, b strides]
  const cases: [number[], number[], number[]][] = [
    [[7, 5], [5, 1], [5, 1]], // same shape
    [[1001], [1], [0]], // b scalar
    [[3], [0], [1]], // a scalar
    [[4, 9], [9, 1], [0, 1]], // bias row vector
    [[6, 11], [11, 1], [1, 0]], // per-row column vector
    [[2, 3, 5], [5, 0, 1], [0, 1, 0]], // general broadcast
    [[5, 6], [1, 5], [6, 1]], // a transposed
    [[2, 1, 3], [3, 3, 1], [3, 3, 1]], // size-1 dim
  ];
  for (const [shape, sa, sb] of cases) {
    const n = shape.reduce((x, y) => x * y, 1);
    const span = (s: number[]) => 1 + s.reduce((acc, st, d) => acc + st * (shape[d] - 1), 0);
    for (const [name, op] of Object.entries(BINARY)) {
      if (op > BINARY.LESS) continue;
      p.reset();
      const a = p.rnd(span(sa), -2, 2), b = p.rnd(span(sb), 0.5, 2), out = p.junk(4 * n, 4);
      p.both((k) => k.binary(op, DTYPE.F32, a, b, out, shape, sa, sb));
      if (op >= BINARY.EQUAL) p.same(out, n, `${name} [${shape}]`);
      else p.same(out, 4 * n, `${name} [${shape}]`);
    }
  }
  // in place: out = a (same shape), b broadcast
  p.reset();
  const a = p.rnd(4 * 9), b = p.rnd(9);
  p.both((k) => k.binary(BINARY.MUL, DTYPE.F32, a, b, a, [4, 9], [9, 1], [0, 1]));
  p.same(a, 4 * 36, "in place");
  // equal on identical values
  p.reset();
  const x = p.put(new Float32Array([1, 2, 3, 4, 5])),
    y = p.put(new Float32Array([1, 0, 3, 0, 5])),
    o = p.alloc(5);
  p.wasm.binary(BINARY.EQUAL, DTYPE.F32, x, y, o, [5], [1], [1]);
  assert.deepEqual([...p.u8(o, 5, "wasm")], [1, 0, 1, 0, 1]);
});

Deno.test("lean binary: i32 arithmetic (truncating division, x/0 = 0) and u8 logic match the reference", async () => {
  const p = await pair(1);
  const ints = (n: number, lo: number, hi: number) =>
    p.put(Int32Array.from({ length: n }, () => lo + Math.floor(p.rand() * (hi - lo))));
  for (
    const [shape, sa, sb] of [[[9], [1], [1]], [[4, 5], [5, 1], [0, 1]], [[4, 5], [5, 1], [1, 0]]] as const
  ) {
    const n = shape.reduce((x, y) => x * y, 1);
    for (const op of [BINARY.ADD, BINARY.SUB, BINARY.MUL, BINARY.DIV, BINARY.EQUAL, BINARY.LESS]) {
      p.reset();
      const a = ints(n, -50, 50), b = ints(n, -4, 5), out = p.junk(4 * n);
      p.both((k) => k.binary(op, DTYPE.I32, a, b, out, [...shape], [...sa], [...sb]));
      p.same(out, op >= BINARY.EQUAL ? n : 4 * n, `i32 op ${op} [${shape}]`);
    }
    for (const op of [BINARY.EQUAL, BINARY.LESS, BINARY.AND]) {
      p.reset();
      const a = p.put(Uint8Array.from({ length: n }, () => (p.rand() < 0.5 ? 1 : 0)));
      const b = p.put(Uint8Array.from({ length: n }, () => (p.rand() < 0.5 ? 1 : 0))), out = p.junk(n);
      p.both((k) => k.binary(op, DTYPE.U8, a, b, out, [...shape], [...sa], [...sb]));
      p.same(out, n, `u8 op ${op} [${shape}]`);
    }
  }
  p.reset();
  const a = p.put(new Int32Array([7, -7, 7, -7, 5])),
    b = p.put(new Int32Array([2, 2, -2, -2, 0])),
    o = p.alloc(20);
  p.wasm.binary(BINARY.DIV, DTYPE.I32, a, b, o, [5], [1], [1]);
  assert.deepEqual([...p.i32(o, 5, "wasm")], [3, -3, -3, 3, 0]);
  assert.throws(() => p.wasm.binary(BINARY.AND, DTYPE.F32, a, b, o, [5], [1], [1]), /unsupported/);
  assert.throws(() => p.wasm.binary(BINARY.ADD, DTYPE.F32, a, b, o, [5], [1], [1, 1]), /entries/);
});

Deno.test("lean not, where, cast, fill: match the reference for every dtype", async () => {
  const p = await pair(1);
  const n = 37;
  const bools = () => p.put(Uint8Array.from({ length: n }, () => (p.rand() < 0.4 ? 1 : 0)));
  const c = bools(), o = p.junk(n);
  p.both((k) => k.not(c, o, n));
  p.same(o, n, "not");
  for (const dtype of [DTYPE.F32, DTYPE.I32, DTYPE.U8]) {
    const bytes = dtype === DTYPE.U8 ? 1 : 4;
    const a = p.rnd(n * 4), b = p.rnd(4), out = p.junk(n * bytes);
    p.both((k) => k.where(c, a, b, out, dtype, [n], [1], [1], [0]));
    p.same(out, n * bytes, `where dtype ${dtype}`);
    const out2 = p.junk(6 * 7 * bytes);
    p.both((k) => k.where(c, a, b, out2, dtype, [6, 7], [7, 1], [0, 1], [1, 0]));
    p.same(out2, 6 * 7 * bytes, `where broadcast dtype ${dtype}`);
  }
  const f = p.put(new Float32Array([0, -0.5, 1.9, -2.7, 300.5, -1e10, NaN, 0.25, 3e9, -3e9, 7, 1]));
  const i = p.put(new Int32Array([0, -1, 2, 255, 256, -300, 7, 1, 0, 9, 11, 13]));
  const u = p.put(new Uint8Array([0, 1, 2, 255, 0, 1, 7, 9, 0, 0, 3, 4]));
  const src = [[f, DTYPE.F32], [i, DTYPE.I32], [u, DTYPE.U8], [u, DTYPE.BOOL]];
  for (const [x, from] of src) {
    for (const to of [DTYPE.F32, DTYPE.I32, DTYPE.U8, DTYPE.BOOL]) {
      const out = p.junk(48);
      p.both((k) => k.cast(x, from, out, to, 12));
      p.same(out, to === DTYPE.U8 || to === DTYPE.BOOL ? 12 : 48, `cast ${from}→${to}`);
    }
  }
  // in place widening and narrowing
  const w = p.put(new Uint8Array(48).fill(3));
  p.both((k) => k.cast(w, DTYPE.U8, w, DTYPE.F32, 12));
  p.same(w, 48, "in-place u8→f32");
  p.both((k) => k.cast(w, DTYPE.F32, w, DTYPE.U8, 12));
  p.same(w, 12, "in-place f32→u8");
  for (const dtype of [DTYPE.F32, DTYPE.I32, DTYPE.U8, DTYPE.BOOL]) {
    for (const len of [1, 5, 33]) {
      const out = p.junk(4 * len);
      p.both((k) => k.fill(out, dtype, len, dtype === DTYPE.F32 ? -1.25 : 3));
      p.same(out, 4 * len, `fill ${dtype} n=${len}`);
    }
  }
});

Deno.test("lean copyStrided / copyStridedOut: transpose, expand, slice, concat and pad match the reference", async () => {
  const p = await pair(1);
  for (const dtype of [DTYPE.F32, DTYPE.I32, DTYPE.U8]) {
    const bytes = dtype === DTYPE.U8 ? 1 : 4;
    p.reset();
    const x = p.junk(2 * 3 * 4 * 5 * bytes);
    // transpose (0,2,1,3) of [2,3,4,5]; expand [3,1]→[3,4]; slice [1:3, 2:5] of [4,5]
    const gathers: [number[], number[], number][] = [
      [[2, 4, 3, 5], [60, 5, 20, 1], 0],
      [[3, 4], [1, 0], 0],
      [[2, 3], [5, 1], 7],
      [[2, 3, 4, 5], [60, 20, 5, 1], 0],
    ];
    for (const [shape, strides, off] of gathers) {
      const n = shape.reduce((a, b) => a * b, 1), out = p.junk(n * bytes);
      p.both((k) => k.copyStrided(x, out, dtype, shape, strides, off));
      p.same(out, n * bytes, `copyStrided dtype ${dtype} [${shape}] [${strides}] +${off}`);
    }
    // concat two [3,2] parts into [3,5] at column offsets 0 and 2 (second part [3,3]); pad [2,2] into [4,4]
    const dst = p.junk(3 * 5 * bytes), a = p.junk(6 * bytes, bytes), b = p.junk(9 * bytes, 2 * bytes);
    p.both((k) => k.copyStridedOut(a, dst, dtype, [3, 2], [5, 1], 0));
    p.both((k) => k.copyStridedOut(b, dst, dtype, [3, 3], [5, 1], 2));
    p.same(dst, 15 * bytes, `concat dtype ${dtype}`);
    const pad = p.alloc(16 * bytes);
    p.both((k) => k.fill(pad, dtype, 16, 0));
    p.both((k) => k.copyStridedOut(a, pad, dtype, [2, 2], [4, 1], 5));
    p.same(pad, 16 * bytes, `pad dtype ${dtype}`);
  }
  assert.throws(
    () => p.wasm.copyStrided(0, 0, DTYPE.F32, [1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0], 0),
    /rank 7/,
  );
});

Deno.test("lean axpy, scale, sumSquares: match the reference", async () => {
  const p = await pair(1);
  for (const n of SIZES) {
    p.reset();
    const x = p.rnd(n), y = p.rnd(n), out = p.junk(4 * n);
    p.both((k) => k.axpy(-0.75, x, y, n));
    p.close(y, n, `axpy n=${n}`, 1e-6, 1e-6);
    p.both((k) => k.scale(x, 3.5, out, n));
    p.same(out, 4 * n, `scale n=${n}`);
    const [sw, sr] = [p.wasm.sumSquares(x, n), p.ref.sumSquares(x, n)];
    assert.ok(Math.abs(sw - sr) <= 1e-12 * sr, `sumSquares n=${n}: ${sw} vs ${sr}`);
  }
});

Deno.test("lean reduce: SUM / MEAN / MAX over [outer, red, inner] match the reference; 1e5-long sums stay accurate", async () => {
  const p = await pair(8);
  for (
    const [outer, red, inner] of [[1, 1, 1], [3, 7, 1], [2, 5, 3], [2, 33, 17], [1, 100, 20], [4, 1000, 1], [
      2,
      3,
      40,
    ]]
  ) {
    for (const [name, op] of Object.entries(REDUCE)) {
      p.reset();
      const x = p.rnd(outer * red * inner, -1, 1), out = p.junk(4 * outer * inner);
      p.both((k) => k.reduce(op, x, out, outer, red, inner));
      p.close(out, outer * inner, `${name} [${outer},${red},${inner}]`, 1e-6, 1e-5);
    }
  }
  for (const inner of [1, 5, 16]) {
    p.reset();
    const red = 100_000, x = p.rnd(red * inner, 0, 1), out = p.alloc(4 * inner);
    p.both((k) => k.reduce(REDUCE.SUM, x, out, 1, red, inner));
    p.close(out, inner, `1e5-long sum inner=${inner}`, 0, 1e-6);
  }
});

Deno.test("lean softmax / logSoftmax: match the reference row by row, in place and with −1e9 entries", async () => {
  const p = await pair(8);
  for (const [rows, n] of [[1, 1], [3, 3], [2, 4], [5, 37], [2, 50257]]) {
    p.reset();
    const x = p.rnd(rows * n, -20, 20), out = p.junk(4 * rows * n);
    p.both((k) => k.softmax(x, out, rows, n));
    p.close(out, rows * n, `softmax ${rows}×${n}`, 1e-9, 1e-5);
    p.both((k) => k.logSoftmax(x, out, rows, n));
    p.close(out, rows * n, `logSoftmax ${rows}×${n}`, 1e-5, 1e-5);
    p.both((k) => k.softmax(x, x, rows, n));
    p.close(x, rows * n, `softmax in place ${rows}×${n}`, 1e-9, 1e-5);
  }
  p.reset();
  const x = p.put(new Float32Array([-1e9, 2, -1e9, 1, -1e9, -1e9, -1e9, -1e9])), out = p.alloc(32);
  p.both((k) => k.softmax(x, out, 2, 4));
  p.close(out, 8, "masked rows", 1e-9, 1e-6);
  assert.deepEqual([...p.f32(out + 16, 4, "wasm")], [0.25, 0.25, 0.25, 0.25]);
});

Deno.test("lean adamw: WASM equals the reference, and the reference equals src/optim AdamW.update over 3 steps", async () => {
  const p = await pair(1);
  for (const n of SIZES) {
    p.reset();
    const w0 = randn(n, p.rand),
      w = p.put(w0),
      m = p.put(new Float32Array(n)),
      v = p.put(new Float32Array(n));
    const opt = new AdamW({ weightDecay: 0.1 }), host = new Map([["w", w0.slice()]]);
    for (let step = 1; step <= 3; step++) {
      const gd = randn(n, p.rand), g = p.put(gd);
      p.both((k) => k.adamw(w, g, m, v, n, 1e-2, 0.9, 0.999, 1e-8, 0.1, step));
      opt.update(host, new Map([["w", gd]]), 1e-2);
      p.close(w, n, `adamw n=${n} step ${step} w`, 1e-7, 1e-5);
      p.close(m, n, `adamw n=${n} step ${step} m`, 1e-7, 1e-5);
      p.close(v, n, `adamw n=${n} step ${step} v`, 1e-9, 1e-5);
      assert.deepEqual(p.f32(w, n, "ref"), host.get("w"), `reference = AdamW.update, step ${step}`);
    }
  }
  assert.throws(() => p.wasm.adamw(0, 0, 0, 0, 0, 1, 0.9, 0.999, 1e-8, 0, 0), /step must be/);
});
