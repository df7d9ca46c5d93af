/**
 * @module Plain-TS reference of every lean kernel ({@link LeanKernels}) over an ArrayBuffer with the
 * same byte-offset addressing as the WASM memory: straightforward loops, sums in f64, the
 * readable definition the WASM kernels are tested against. Not for speed. The fused kernels' math
 * lives in reference_fused.ts. Over 400 lines: one method per kernel of the contract, parameter
 * lists one per line (deno fmt).
 */
import {
  adamwScalars,
  badIndex,
  BINARY,
  checkStrided,
  DTYPE,
  dtypeBytes,
  keepThreshold,
  type LeanKernels,
  REDUCE,
  UNARY,
} from "./contract.ts";
import {
  attentionBackwardRef,
  attentionRef,
  crossEntropyRef,
  layerNormBackwardRef,
  layerNormRef,
  type Mem,
  rmsNormBackwardRef,
  rmsNormRef,
  ropeRef,
} from "./reference_fused.ts";
import { quantize as quantizeRef } from "../../linalg/quant.ts";

const GELU_C = Math.sqrt(2 / Math.PI);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const tanhGelu = (x: number) => Math.tanh(GELU_C * (x + 0.044715 * x * x * x));

const UNARY_F: Record<number, (x: number) => number> = {
  [UNARY.NEG]: (x) => -x,
  [UNARY.EXP]: Math.exp,
  [UNARY.LOG]: Math.log,
  [UNARY.SQRT]: Math.sqrt,
  [UNARY.RECIPROCAL]: (x) => 1 / x,
  [UNARY.TANH]: Math.tanh,
  [UNARY.SIGMOID]: sigmoid,
  [UNARY.COS]: Math.cos,
  [UNARY.SIN]: Math.sin,
  [UNARY.SILU]: (x) => x * sigmoid(x),
  [UNARY.GELU_TANH]: (x) => 0.5 * x * (1 + tanhGelu(x)),
  [UNARY.COPY]: (x) => x,
};
const UNARY_GRAD: Record<number, (x: number) => number> = {
  [UNARY.SILU]: (x) => sigmoid(x) * (1 + x * (1 - sigmoid(x))),
  [UNARY.GELU_TANH]: (x) => {
    const t = tanhGelu(x);
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x);
  },
};

/** Row-major multi-index walk: f(flat index, offset for each stride vector). */
function forEachIndex(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  f: (o: number, off: number[]) => void,
) {
  const total = shape.reduce((a, d) => a * d, 1);
  const idx = shape.map(() => 0);
  for (let o = 0; o < total; o++) {
    f(o, strides.map((s) => s.reduce((acc, st, d) => acc + st * idx[d], 0)));
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/**
 * The reference kernels over `memory.buffer` (a WebAssembly.Memory or any { buffer }).
 *
 * @example
 * ```ts
 * const ref = new ReferenceLeanKernels({ buffer: new ArrayBuffer(1 << 16) });
 * ref.fill(64, DTYPE.F32, 4, 2);
 * ref.sumSquares(64, 4); // 16
 * ```
 */
export class ReferenceLeanKernels implements LeanKernels {
  constructor(readonly memory: { readonly buffer: ArrayBufferLike }, readonly base = 64) {}

  get #m(): Mem {
    const buf = this.memory.buffer;
    return { f32: new Float32Array(buf), i32: new Int32Array(buf), u8: new Uint8Array(buf) };
  }
  /** Read / write element i of dtype at byte offset p. */
  #get(m: Mem, dtype: number, p: number, i: number): number {
    return dtype === DTYPE.F32 ? m.f32[p / 4 + i] : dtype === DTYPE.I32 ? m.i32[p / 4 + i] : m.u8[p + i];
  }
  #set(m: Mem, dtype: number, p: number, i: number, v: number): void {
    if (dtype === DTYPE.F32) m.f32[p / 4 + i] = v;
    else if (dtype === DTYPE.I32) m.i32[p / 4 + i] = v;
    else m.u8[p + i] = v;
  }

  heapBase(): number {
    return this.base;
  }
  unary(op: number, x: number, out: number, n: number): void {
    const f = UNARY_F[op], { f32 } = this.#m;
    if (!f) throw new RangeError(`unary op ${op}: unsupported op or dtype combination`);
    for (let i = 0; i < n; i++) f32[out / 4 + i] = f(f32[x / 4 + i]);
  }
  unaryBackward(op: number, g: number, x: number, out: number, n: number): void {
    const f = UNARY_GRAD[op], { f32 } = this.#m;
    if (!f) throw new RangeError(`unaryBackward op ${op}: unsupported op or dtype combination`);
    for (let i = 0; i < n; i++) f32[out / 4 + i] = f32[g / 4 + i] * f(f32[x / 4 + i]);
  }
  binary(
    op: number,
    dtype: number,
    a: number,
    b: number,
    out: number,
    shape: readonly number[],
    aStrides: readonly number[],
    bStrides: readonly number[],
  ): void {
    checkStrided("binary", shape, { aStrides, bStrides });
    const m = this.#m, dt = dtype === DTYPE.BOOL ? DTYPE.U8 : dtype;
    const arith = op <= BINARY.DIV;
    const ok = dt === DTYPE.F32
      ? op <= BINARY.LESS
      : dt === DTYPE.I32
      ? op <= BINARY.LESS
      : op >= BINARY.EQUAL;
    if (!ok || op > BINARY.AND) {
      throw new RangeError(`binary op ${op} dtype ${dtype}: unsupported op or dtype combination`);
    }
    const outDt = arith ? dt : DTYPE.U8;
    forEachIndex(shape, [aStrides, bStrides], (o, [ia, ib]) => {
      const x = this.#get(m, dt, a, ia), y = this.#get(m, dt, b, ib);
      let r: number;
      if (op === BINARY.ADD) r = x + y;
      else if (op === BINARY.SUB) r = x - y;
      else if (op === BINARY.MUL) r = dt === DTYPE.I32 ? Math.imul(x, y) : x * y;
      else if (op === BINARY.DIV) r = dt === DTYPE.I32 ? (y === 0 ? 0 : Math.trunc(x / y)) : x / y;
      else if (op === BINARY.EQUAL) r = x === y ? 1 : 0;
      else if (op === BINARY.LESS) r = x < y ? 1 : 0;
      else r = x !== 0 && y !== 0 ? 1 : 0;
      this.#set(m, outDt, out, o, r);
    });
  }
  not(x: number, out: number, n: number): void {
    const { u8 } = this.#m;
    for (let i = 0; i < n; i++) u8[out + i] = u8[x + i] === 0 ? 1 : 0;
  }
  where(
    cond: number,
    a: number,
    b: number,
    out: number,
    dtype: number,
    shape: readonly number[],
    condStrides: readonly number[],
    aStrides: readonly number[],
    bStrides: readonly number[],
  ): void {
    checkStrided("where", shape, { condStrides, aStrides, bStrides });
    dtypeBytes(dtype);
    const m = this.#m;
    forEachIndex(shape, [condStrides, aStrides, bStrides], (o, [ic, ia, ib]) => {
      this.#set(m, dtype, out, o, m.u8[cond + ic] ? this.#get(m, dtype, a, ia) : this.#get(m, dtype, b, ib));
    });
  }
  cast(x: number, fromDtype: number, out: number, toDtype: number, n: number): void {
    const m = this.#m, from = fromDtype === DTYPE.BOOL ? DTYPE.U8 : fromDtype;
    dtypeBytes(from);
    dtypeBytes(toDtype);
    const vals = Array.from({ length: n }, (_, i) => this.#get(m, from, x, i));
    vals.forEach((v, i) => {
      let r = v;
      if (toDtype === DTYPE.BOOL) r = v !== 0 ? 1 : 0;
      else if (toDtype === DTYPE.I32 && from === DTYPE.F32) {
        r = Number.isNaN(v) ? 0 : Math.max(-2147483648, Math.min(2147483647, Math.trunc(v)));
      } else if (toDtype === DTYPE.U8) {
        r = from === DTYPE.F32 ? (Number.isNaN(v) ? 0 : Math.max(0, Math.min(255, Math.trunc(v)))) : v & 255;
      }
      this.#set(m, toDtype, out, i, r);
    });
  }
  copyStrided(
    x: number,
    out: number,
    dtype: number,
    shape: readonly number[],
    inStrides: readonly number[],
    inOffset: number,
  ): void {
    checkStrided("copyStrided", shape, { inStrides });
    const m = this.#m;
    dtypeBytes(dtype);
    forEachIndex(
      shape,
      [inStrides],
      (o, [i]) => this.#set(m, dtype, out, o, this.#get(m, dtype, x, inOffset + i)),
    );
  }
  copyStridedOut(
    x: number,
    out: number,
    dtype: number,
    shape: readonly number[],
    outStrides: readonly number[],
    outOffset: number,
  ): void {
    checkStrided("copyStridedOut", shape, { outStrides });
    const m = this.#m;
    dtypeBytes(dtype);
    forEachIndex(
      shape,
      [outStrides],
      (o, [i]) => this.#set(m, dtype, out, outOffset + i, this.#get(m, dtype, x, o)),
    );
  }
  fill(out: number, dtype: number, n: number, value: number): void {
    const m = this.#m;
    dtypeBytes(dtype);
    const v = dtype === DTYPE.BOOL ? (value !== 0 ? 1 : 0) : dtype === DTYPE.F32 ? value : Math.trunc(value);
    for (let i = 0; i < n; i++) this.#set(m, dtype, out, i, v);
  }
  axpy(alpha: number, x: number, y: number, n: number): void {
    const { f32 } = this.#m;
    for (let i = 0; i < n; i++) f32[y / 4 + i] += alpha * f32[x / 4 + i];
  }
  scale(x: number, alpha: number, out: number, n: number): void {
    const { f32 } = this.#m;
    for (let i = 0; i < n; i++) f32[out / 4 + i] = alpha * f32[x / 4 + i];
  }
  sumSquares(x: number, n: number): number {
    const { f32 } = this.#m;
    let s = 0;
    for (let i = 0; i < n; i++) s += f32[x / 4 + i] ** 2;
    return s;
  }
  reduce(op: number, x: number, out: number, outer: number, red: number, inner: number): void {
    if (op !== REDUCE.SUM && op !== REDUCE.MEAN && op !== REDUCE.MAX) {
      throw new RangeError(`reduce op ${op}: unsupported op or dtype combination`);
    }
    const { f32 } = this.#m;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = op === REDUCE.MAX ? -Infinity : 0;
        for (let r = 0; r < red; r++) {
          const v = f32[x / 4 + (o * red + r) * inner + i];
          acc = op === REDUCE.MAX ? (v > acc || Number.isNaN(v) ? v : acc) : acc + v;
        }
        f32[out / 4 + o * inner + i] = op === REDUCE.MEAN ? acc / red : acc;
      }
    }
  }
  softmax(x: number, out: number, rows: number, n: number): void {
    this.#softmax(x, out, rows, n, false);
  }
  logSoftmax(x: number, out: number, rows: number, n: number): void {
    this.#softmax(x, out, rows, n, true);
  }
  #softmax(x: number, out: number, rows: number, n: number, log: boolean): void {
    const { f32 } = this.#m;
    for (let r = 0; r < rows; r++) {
      const row = Array.from(f32.subarray(x / 4 + r * n, x / 4 + (r + 1) * n));
      const mx = row.reduce((a, v) => Math.max(a, v), -Infinity);
      const sum = row.reduce((s, v) => s + Math.exp(v - mx), 0);
      row.forEach((v, j) => f32[out / 4 + r * n + j] = log ? v - mx - Math.log(sum) : Math.exp(v - mx) / sum);
    }
  }
  gemm(
    a: number,
    b: number,
    c: number,
    bias: number,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    batch: number,
    strideA: number,
    strideB: number,
    strideC: number,
    alpha: number,
    accumulate: boolean,
    _scratch: number,
  ): void {
    const { f32 } = this.#m;
    for (let bi = 0; bi < batch; bi++) {
      const pa = a / 4 + bi * strideA, pb = b / 4 + bi * strideB, pc = c / 4 + bi * strideC;
      const bv = (p: number, j: number) => f32[pb + (transB ? j * k + p : p * n + j)];
      this.#matmul(
        m,
        n,
        k,
        (i, p) => f32[pa + (transA ? p * m + i : i * k + p)],
        bv,
        pc,
        bias,
        alpha,
        accumulate,
      );
    }
  }
  #matmul(
    m: number,
    n: number,
    k: number,
    av: (i: number, p: number) => number,
    bv: (p: number, j: number) => number,
    pc: number,
    bias: number,
    alpha: number,
    accumulate: boolean,
  ): void {
    const { f32 } = this.#m;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += av(i, p) * bv(p, j);
        f32[pc + i * n + j] = alpha * s + (accumulate ? f32[pc + i * n + j] : 0) +
          (bias ? f32[bias / 4 + j] : 0);
      }
    }
  }
  gemmScratchBytes(): number {
    return 0;
  }
  gemmQ(
    a: number,
    codes: number,
    scales: number,
    zeros: number,
    c: number,
    bias: number,
    m: number,
    n: number,
    k: number,
    bits: number,
    groupSize: number,
    transB: boolean,
    alpha: number,
    accumulate: boolean,
    _scratch: number,
  ): void {
    if (bits !== 4 && bits !== 8) throw new RangeError(`gemmQ: bits must be 4 or 8, got ${bits}`);
    const { f32, u8 } = this.#m;
    const value = (flat: number) => {
      const q = bits === 8 ? u8[codes + flat] : (u8[codes + (flat >> 1)] >> ((flat & 1) * 4)) & 15;
      const g = Math.floor(flat / groupSize);
      return (q - u8[zeros + g]) * f32[scales / 4 + g];
    };
    const bv = (p: number, j: number) => value(transB ? j * k + p : p * n + j);
    this.#matmul(m, n, k, (i, p) => f32[a / 4 + i * k + p], bv, c / 4, bias, alpha, accumulate);
  }
  gemmQScratchBytes(): number {
    return 0;
  }
  packInt4(codes: number, out: number, n: number): void {
    const { u8 } = this.#m;
    const packed = Array.from(
      { length: Math.ceil(n / 2) },
      (_, j) => (u8[codes + 2 * j] & 15) | (2 * j + 1 < n ? (u8[codes + 2 * j + 1] & 15) << 4 : 0),
    );
    packed.forEach((v, j) => u8[out + j] = v);
  }
  #checkIds(what: string, ids: number, count: number, limit: number): void {
    const { i32 } = this.#m;
    for (let i = 0; i < count; i++) {
      const id = i32[ids / 4 + i];
      if (id < 0 || id >= limit) badIndex(what, i + 1, id, limit);
    }
  }
  gatherRows(table: number, ids: number, out: number, nIds: number, rowLen: number, tableRows: number): void {
    this.#checkIds("gatherRows", ids, nIds, tableRows);
    const { f32, i32 } = this.#m;
    for (let i = 0; i < nIds; i++) {
      for (let j = 0; j < rowLen; j++) {
        f32[out / 4 + i * rowLen + j] = f32[table / 4 + i32[ids / 4 + i] * rowLen + j];
      }
    }
  }
  gatherRowsQ(
    codes: number,
    scales: number,
    zeros: number,
    ids: number,
    out: number,
    nIds: number,
    rowLen: number,
    tableRows: number,
    bits: number,
    groupSize: number,
  ): void {
    this.#checkIds("gatherRowsQ", ids, nIds, tableRows);
    const { f32, i32, u8 } = this.#m;
    for (let i = 0; i < nIds; i++) {
      for (let j = 0; j < rowLen; j++) {
        const e = i32[ids / 4 + i] * rowLen + j, g = Math.floor(e / groupSize);
        const q = bits === 8 ? u8[codes + e] : (u8[codes + (e >> 1)] >> ((e & 1) * 4)) & 15;
        f32[out / 4 + i * rowLen + j] = (q - u8[zeros + g]) * f32[scales / 4 + g];
      }
    }
  }
  quantize(
    x: number,
    len: number,
    bits: number,
    group: number,
    q: number,
    scales: number,
    zeros: number,
  ): void {
    const { f32, u8 } = this.#m;
    const r = quantizeRef(f32.slice(x / 4, x / 4 + len), {
      bits: bits as 4 | 8,
      groupSize: group,
      stochastic: false,
    });
    u8.set(r.data, q);
    f32.set(r.scales, scales / 4);
    u8.set(r.zeros, zeros);
  }
  scatterAddRows(g: number, ids: number, out: number, nIds: number, rowLen: number, outRows: number): void {
    this.#checkIds("scatterAddRows", ids, nIds, outRows);
    const { f32, i32 } = this.#m;
    for (let i = 0; i < nIds; i++) {
      for (let j = 0; j < rowLen; j++) {
        f32[out / 4 + i32[ids / 4 + i] * rowLen + j] += f32[g / 4 + i * rowLen + j];
      }
    }
  }
  gatherLast(x: number, idx: number, out: number, rows: number, n: number): void {
    this.#checkIds("gatherLast", idx, rows, n);
    const { f32, i32 } = this.#m;
    for (let r = 0; r < rows; r++) f32[out / 4 + r] = f32[x / 4 + r * n + i32[idx / 4 + r]];
  }
  scatterLast(g: number, idx: number, out: number, rows: number, n: number): void {
    this.#checkIds("scatterLast", idx, rows, n);
    const { f32, i32 } = this.#m;
    for (let r = 0; r < rows; r++) f32[out / 4 + r * n + i32[idx / 4 + r]] += f32[g / 4 + r];
  }
  causalMask(out: number, tq: number, tk: number): void {
    const { u8 } = this.#m;
    for (let i = 0; i < tq; i++) for (let j = 0; j < tk; j++) u8[out + i * tk + j] = j <= tk - tq + i ? 1 : 0;
  }
  keepMask(out: number, n: number, seed: number, keep: number): void {
    const { u8 } = this.#m, thresh = BigInt(keepThreshold(keep)), w = (x: bigint) => BigInt.asIntN(64, x);
    for (let i = 0; i < n; i++) {
      // the ops.ts lowering in int64: h = i·A + seed·B; h2 = (h + h/65537)·C; bits = (h2/2¹⁶) mod 2²⁴
      const h = w(w(BigInt(i) * 0x5851f42dn) + w(BigInt(seed) * 0x14057b7en));
      const h2 = w(w(h + h / 65537n) * 0x2545f491n);
      const bits = (((h2 / 65536n) % 16777216n) + 16777216n) % 16777216n;
      u8[out + i] = bits < thresh ? 1 : 0;
    }
  }
  rmsNorm(x: number, w: number, out: number, rows: number, d: number, eps: number, offset: number): void {
    rmsNormRef(this.#m, { x, w, out, rows, d, eps, offset });
  }
  rmsNormBackward(
    g: number,
    x: number,
    w: number,
    dx: number,
    dw: number,
    rows: number,
    d: number,
    eps: number,
    offset: number,
    accumulateDw: boolean,
  ): void {
    rmsNormBackwardRef(this.#m, { g, x, w, dx, dw, rows, d, eps, offset, accumulateDw });
  }
  layerNorm(x: number, w: number, b: number, out: number, rows: number, d: number, eps: number): void {
    layerNormRef(this.#m, { x, w, b, out, rows, d, eps });
  }
  layerNormBackward(
    g: number,
    x: number,
    w: number,
    dx: number,
    dw: number,
    db: number,
    rows: number,
    d: number,
    eps: number,
    accumulate: boolean,
  ): void {
    layerNormBackwardRef(this.#m, { g, x, w, dx, dw, db, rows, d, eps, accumulate });
  }
  rope(
    x: number,
    cos: number,
    sin: number,
    out: number,
    b: number,
    h: number,
    t: number,
    e: number,
    perBatch: boolean,
  ) {
    ropeRef(this.#m, { x, cos, sin, out, b, h, t, e, perBatch, backward: false });
  }
  ropeBackward(
    g: number,
    cos: number,
    sin: number,
    dx: number,
    b: number,
    h: number,
    t: number,
    e: number,
    perBatch: boolean,
  ) {
    ropeRef(this.#m, { x: g, cos, sin, out: dx, b, h, t, e, perBatch, backward: true });
  }
  attention(
    q: number,
    k: number,
    v: number,
    mask: number,
    out: number,
    lse: number,
    b: number,
    h: number,
    kvh: number,
    tq: number,
    tk: number,
    e: number,
    scale: number,
    window: number,
    _scratch: number,
  ): void {
    attentionRef(this.#m, { q, k, v, mask, out, lse, b, h, kvh, tq, tk, e, scale, window });
  }
  attentionScratchBytes(): number {
    return 0;
  }
  attentionBackward(
    dout: number,
    q: number,
    k: number,
    v: number,
    mask: number,
    _out: number,
    _lse: number,
    dq: number,
    dk: number,
    dv: number,
    b: number,
    h: number,
    kvh: number,
    tq: number,
    tk: number,
    e: number,
    scale: number,
    window: number,
    _scratch: number,
  ): void {
    attentionBackwardRef(this.#m, { dout, q, k, v, mask, dq, dk, dv, b, h, kvh, tq, tk, e, scale, window });
  }
  attentionBackwardScratchBytes(): number {
    return 0;
  }
  crossEntropy(
    h: number,
    w: number,
    labels: number,
    lossOut: number,
    rows: number,
    d: number,
    v: number,
    _chunk: number,
    transW: boolean,
    _scratch: number,
  ): void {
    crossEntropyRef(this.#m, { h, w, labels, rows, d, v, transW, lossOut });
  }
  crossEntropyRows(
    h: number,
    w: number,
    labels: number,
    nllOut: number,
    rows: number,
    d: number,
    v: number,
    _chunk: number,
    transW: boolean,
    _scratch: number,
    lseOut = 0,
  ): void {
    crossEntropyRef(this.#m, { h, w, labels, rows, d, v, transW, nllOut, lseOut });
  }
  crossEntropyBackward(
    g: number,
    h: number,
    w: number,
    labels: number,
    dh: number,
    dw: number,
    rows: number,
    d: number,
    v: number,
    _chunk: number,
    transW: boolean,
    accumulateDw: boolean,
    _scratch: number,
  ): void {
    crossEntropyRef(this.#m, { h, w, labels, rows, d, v, transW, g, dh, dw, accumulateDw });
  }
  crossEntropyScratchBytes(): number {
    return 0;
  }
  adamw(
    w: number,
    g: number,
    m: number,
    v: number,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number,
  ): void {
    const { f32 } = this.#m, { keep, stepSize, sqrtBc2 } = adamwScalars(lr, beta1, beta2, weightDecay, step);
    for (let i = 0; i < n; i++) {
      const gi = f32[g / 4 + i];
      const mi = (f32[m / 4 + i] = beta1 * f32[m / 4 + i] + (1 - beta1) * gi);
      const vi = (f32[v / 4 + i] = beta2 * f32[v / 4 + i] + (1 - beta2) * gi * gi);
      f32[w / 4 + i] = f32[w / 4 + i] * keep - stepSize * mi / (Math.sqrt(vi) / sqrtBc2 + eps);
    }
  }
}
