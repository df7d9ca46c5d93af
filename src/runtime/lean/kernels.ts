/**
 * @module The lean backend's WASM SIMD128 kernels (wasm/lean_*.rs, exports `lean_*` of
 * wasm/kernels.wasm) behind {@link LeanKernels}. Each {@link instantiateLean} call makes a new
 * instance whose whole linear memory belongs to the caller above {@link WasmLeanKernels.heapBase}:
 * no kernel allocates or grows memory, so the caller sizes it once (`memory.grow`). Shapes and
 * strides travel through the module's static 64-word argument block (`lean_args`). Over 400
 * lines: one thin method per kernel of the contract, parameter lists one per line (deno fmt).
 */
import { compileKernels } from "../../../wasm/mod.ts";
import {
  adamwScalars,
  badIndex,
  checkStrided,
  coalesce,
  dtypeBytes,
  keepThreshold,
  type LeanKernels,
} from "./contract.ts";

export * from "./contract.ts";

type Fn = (...args: number[]) => number;

const b = (x: boolean) => (x ? 1 : 0);

/**
 * The WASM kernels over one instance's memory; create with {@link instantiateLean}.
 *
 * @example
 * ```ts
 * const { kernels, memory } = await instantiateLean();
 * memory.grow(16); // 1 MiB for the caller's tensors above kernels.heapBase()
 * kernels.fill(kernels.heapBase(), DTYPE.F32, 4, 1.5);
 * ```
 */
export class WasmLeanKernels implements LeanKernels {
  readonly memory: WebAssembly.Memory;
  readonly #x: Record<string, Fn>;
  readonly #argsPtr: number;
  #args: Int32Array | null = null;

  constructor(instance: WebAssembly.Instance) {
    const ex = instance.exports as Record<string, unknown>;
    this.memory = ex.memory as WebAssembly.Memory;
    this.#x = ex as Record<string, Fn>;
    for (
      const name of [
        "lean_heap_base",
        "lean_args",
        "lean_gemm",
        "lean_gemm_q",
        "lean_attention_backward",
        "lean_cross_entropy",
      ]
    ) {
      if (typeof ex[name] !== "function") throw new Error(`kernels.wasm has no ${name}: rebuild it`);
    }
    this.#argsPtr = this.#x.lean_args() >>> 0;
  }

  heapBase(): number {
    return this.#x.lean_heap_base() >>> 0;
  }

  /** Write the shape and stride vectors of a strided call; returns the coalesced rank. */
  #strided(what: string, shape: readonly number[], strides: Record<string, readonly number[]>): number {
    checkStrided(what, shape, strides);
    const c = coalesce(shape, Object.values(strides));
    if (this.#args === null || this.#args.buffer !== this.memory.buffer) {
      this.#args = new Int32Array(this.memory.buffer, this.#argsPtr, 64);
    }
    const args = this.#args;
    for (let d = 0; d < c.shape.length; d++) {
      args[d] = c.shape[d];
      for (let k = 0; k < c.strides.length; k++) args[8 + 8 * k + d] = c.strides[k][d];
    }
    return c.shape.length;
  }
  #ok(what: string, rc: number): void {
    if (rc !== 0) throw new RangeError(`${what}: unsupported op or dtype combination`);
  }
  #id(at: number, i: number): number {
    return new Int32Array(this.memory.buffer, at, i + 1)[i];
  }

  unary(op: number, x: number, out: number, n: number): void {
    this.#ok(`unary op ${op}`, this.#x.lean_unary(op, x, out, n));
  }
  unaryBackward(op: number, g: number, x: number, out: number, n: number): void {
    this.#ok(`unaryBackward op ${op}`, this.#x.lean_unary_backward(op, g, x, out, n));
  }
  binary(
    op: number,
    dtype: number,
    a: number,
    bp: number,
    out: number,
    shape: readonly number[],
    aStrides: readonly number[],
    bStrides: readonly number[],
  ): void {
    const rank = this.#strided("binary", shape, { aStrides, bStrides });
    this.#ok(`binary op ${op} dtype ${dtype}`, this.#x.lean_binary(op, dtype, a, bp, out, rank));
  }
  not(x: number, out: number, n: number): void {
    this.#x.lean_not(x, out, n);
  }
  where(
    cond: number,
    a: number,
    bp: number,
    out: number,
    dtype: number,
    shape: readonly number[],
    condStrides: readonly number[],
    aStrides: readonly number[],
    bStrides: readonly number[],
  ): void {
    const rank = this.#strided("where", shape, { condStrides, aStrides, bStrides });
    this.#ok(`where dtype ${dtype}`, this.#x.lean_where(cond, a, bp, out, dtype, rank));
  }
  cast(x: number, fromDtype: number, out: number, toDtype: number, n: number): void {
    this.#ok(`cast ${fromDtype}→${toDtype}`, this.#x.lean_cast(x, fromDtype, out, toDtype, n));
  }
  copyStrided(
    x: number,
    out: number,
    dtype: number,
    shape: readonly number[],
    inStrides: readonly number[],
    inOffset: number,
  ): void {
    dtypeBytes(dtype);
    const rank = this.#strided("copyStrided", shape, { inStrides });
    this.#ok("copyStrided", this.#x.lean_copy_strided(x, out, dtype, rank, inOffset));
  }
  copyStridedOut(
    x: number,
    out: number,
    dtype: number,
    shape: readonly number[],
    outStrides: readonly number[],
    outOffset: number,
  ): void {
    dtypeBytes(dtype);
    const rank = this.#strided("copyStridedOut", shape, { outStrides });
    this.#ok("copyStridedOut", this.#x.lean_copy_strided_out(x, out, dtype, rank, outOffset));
  }
  fill(out: number, dtype: number, n: number, value: number): void {
    this.#ok(`fill dtype ${dtype}`, this.#x.lean_fill(out, dtype, n, value));
  }
  axpy(alpha: number, x: number, y: number, n: number): void {
    this.#x.lean_axpy(alpha, x, y, n);
  }
  scale(x: number, alpha: number, out: number, n: number): void {
    this.#x.lean_scale(x, alpha, out, n);
  }
  sumSquares(x: number, n: number): number {
    return this.#x.lean_sum_squares(x, n);
  }
  reduce(op: number, x: number, out: number, outer: number, red: number, inner: number): void {
    this.#ok(`reduce op ${op}`, this.#x.lean_reduce(op, x, out, outer, red, inner));
  }
  softmax(x: number, out: number, rows: number, n: number): void {
    this.#x.lean_softmax(x, out, rows, n);
  }
  logSoftmax(x: number, out: number, rows: number, n: number): void {
    this.#x.lean_log_softmax(x, out, rows, n);
  }
  gemm(
    a: number,
    bp: number,
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
    scratch: number,
  ): void {
    this.#x.lean_gemm(
      a,
      bp,
      c,
      bias,
      m,
      n,
      k,
      b(transA),
      b(transB),
      batch,
      strideA,
      strideB,
      strideC,
      alpha,
      b(accumulate),
      scratch,
    );
  }
  gemmScratchBytes(m: number, n: number, k: number, _transA: boolean, _transB: boolean): number {
    return 4 * (this.#x.lean_gemm_scratch_floats(m, n, k) >>> 0);
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
    scratch: number,
  ): void {
    if (bits !== 4 && bits !== 8) throw new RangeError(`gemmQ: bits must be 4 or 8, got ${bits}`);
    if (!(groupSize >= 1)) throw new RangeError(`gemmQ: groupSize must be ≥ 1, got ${groupSize}`);
    this.#x.lean_gemm_q(
      a,
      codes,
      scales,
      zeros,
      c,
      bias,
      m,
      n,
      k,
      bits,
      groupSize,
      b(transB),
      alpha,
      b(accumulate),
      scratch,
    );
  }
  gemmQScratchBytes(m: number, n: number, k: number, _transB: boolean): number {
    return 4 * (this.#x.lean_gemm_scratch_floats(m, n, k) >>> 0);
  }
  packInt4(codes: number, out: number, n: number): void {
    this.#x.lean_pack_int4(codes, out, n);
  }
  gatherRows(table: number, ids: number, out: number, nIds: number, rowLen: number, tableRows: number): void {
    const bad = this.#x.lean_gather_rows(table, ids, out, nIds, rowLen, tableRows) >>> 0;
    if (bad) badIndex("gatherRows", bad, this.#id(ids, bad - 1), tableRows);
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
    const bad =
      this.#x.lean_gather_rows_q(codes, scales, zeros, ids, out, nIds, rowLen, tableRows, bits, groupSize) >>>
      0;
    if (bad) badIndex("gatherRowsQ", bad, this.#id(ids, bad - 1), tableRows);
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
    this.#x.quantize(x, len, bits, group, 0, 0, q, scales, zeros);
  }
  scatterAddRows(g: number, ids: number, out: number, nIds: number, rowLen: number, outRows: number): void {
    const bad = this.#x.lean_scatter_add_rows(g, ids, out, nIds, rowLen, outRows) >>> 0;
    if (bad) badIndex("scatterAddRows", bad, this.#id(ids, bad - 1), outRows);
  }
  gatherLast(x: number, idx: number, out: number, rows: number, n: number): void {
    const bad = this.#x.lean_gather_last(x, idx, out, rows, n) >>> 0;
    if (bad) badIndex("gatherLast", bad, this.#id(idx, bad - 1), n);
  }
  scatterLast(g: number, idx: number, out: number, rows: number, n: number): void {
    const bad = this.#x.lean_scatter_last(g, idx, out, rows, n) >>> 0;
    if (bad) badIndex("scatterLast", bad, this.#id(idx, bad - 1), n);
  }
  causalMask(out: number, tq: number, tk: number): void {
    this.#x.lean_causal_mask(out, tq, tk);
  }
  keepMask(out: number, n: number, seed: number, keep: number): void {
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`keepMask: seed must be a safe integer, got ${seed}`);
    }
    this.#x.lean_keep_mask(out, n, seed, keepThreshold(keep));
  }
  rmsNorm(x: number, w: number, out: number, rows: number, d: number, eps: number, offset: number): void {
    this.#x.lean_rms_norm(x, w, out, rows, d, eps, offset);
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
    this.#x.lean_rms_norm_backward(g, x, w, dx, dw, rows, d, eps, offset, b(accumulateDw));
  }
  layerNorm(x: number, w: number, bias: number, out: number, rows: number, d: number, eps: number): void {
    this.#x.lean_layer_norm(x, w, bias, out, rows, d, eps);
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
    this.#x.lean_layer_norm_backward(g, x, w, dx, dw, db, rows, d, eps, b(accumulate));
  }
  rope(
    x: number,
    cos: number,
    sin: number,
    out: number,
    bs: number,
    h: number,
    t: number,
    e: number,
    tablesPerBatch: boolean,
  ): void {
    if (e % 2) throw new RangeError(`rope: head dim ${e} must be even`);
    this.#x.lean_rope(x, cos, sin, out, bs, h, t, e, b(tablesPerBatch), 0);
  }
  ropeBackward(
    g: number,
    cos: number,
    sin: number,
    dx: number,
    bs: number,
    h: number,
    t: number,
    e: number,
    tablesPerBatch: boolean,
  ): void {
    if (e % 2) throw new RangeError(`ropeBackward: head dim ${e} must be even`);
    this.#x.lean_rope(g, cos, sin, dx, bs, h, t, e, b(tablesPerBatch), 1);
  }
  attention(
    q: number,
    k: number,
    v: number,
    mask: number,
    out: number,
    lse: number,
    bs: number,
    h: number,
    kvh: number,
    tq: number,
    tk: number,
    e: number,
    scale: number,
    window: number,
    scratch: number,
  ): void {
    checkHeads("attention", h, kvh, tk);
    this.#x.lean_attention(q, k, v, mask, out, lse, bs, h, kvh, tq, tk, e, scale, window, scratch);
  }
  attentionScratchBytes(_b: number, _h: number, _kvh: number, tq: number, tk: number, e: number): number {
    return 4 * (this.#x.lean_attention_scratch_floats(tq, tk, e, 0) >>> 0);
  }
  attentionBackward(
    dout: number,
    q: number,
    k: number,
    v: number,
    mask: number,
    out: number,
    lse: number,
    dq: number,
    dk: number,
    dv: number,
    bs: number,
    h: number,
    kvh: number,
    tq: number,
    tk: number,
    e: number,
    scale: number,
    window: number,
    scratch: number,
  ): void {
    checkHeads("attentionBackward", h, kvh, tk);
    this.#x.lean_attention_backward(
      dout,
      q,
      k,
      v,
      mask,
      out,
      lse,
      dq,
      dk,
      dv,
      bs,
      h,
      kvh,
      tq,
      tk,
      e,
      scale,
      window,
      scratch,
    );
  }
  attentionBackwardScratchBytes(
    _b: number,
    _h: number,
    _kvh: number,
    tq: number,
    tk: number,
    e: number,
  ): number {
    return 4 * (this.#x.lean_attention_scratch_floats(tq, tk, e, 1) >>> 0);
  }
  crossEntropy(
    h: number,
    w: number,
    labels: number,
    lossOut: number,
    rows: number,
    d: number,
    v: number,
    chunk: number,
    transW: boolean,
    scratch: number,
  ): void {
    checkChunk("crossEntropy", chunk);
    this.#ce(
      "crossEntropy",
      this.#x.lean_cross_entropy(h, w, labels, lossOut, 0, rows, d, v, chunk, b(transW), scratch, 0),
      labels,
      v,
    );
  }
  crossEntropyRows(
    h: number,
    w: number,
    labels: number,
    nllOut: number,
    rows: number,
    d: number,
    v: number,
    chunk: number,
    transW: boolean,
    scratch: number,
    lseOut = 0,
  ): void {
    checkChunk("crossEntropyRows", chunk);
    this.#ce(
      "crossEntropyRows",
      this.#x.lean_cross_entropy(h, w, labels, 0, nllOut, rows, d, v, chunk, b(transW), scratch, lseOut),
      labels,
      v,
    );
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
    chunk: number,
    transW: boolean,
    accumulateDw: boolean,
    scratch: number,
    lseIn = 0,
  ): void {
    checkChunk("crossEntropyBackward", chunk);
    const rc = this.#x.lean_cross_entropy_backward(
      g,
      h,
      w,
      labels,
      dh,
      dw,
      rows,
      d,
      v,
      chunk,
      b(transW),
      b(accumulateDw),
      scratch,
      lseIn,
    );
    this.#ce("crossEntropyBackward", rc, labels, v);
  }
  crossEntropyScratchBytes(chunk: number, v: number, d: number): number {
    return 4 * (this.#x.lean_cross_entropy_scratch_floats(chunk, v, d) >>> 0);
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
    const { keep, stepSize, sqrtBc2 } = adamwScalars(lr, beta1, beta2, weightDecay, step);
    this.#x.lean_adamw(w, g, m, v, n, beta1, 1 - beta1, beta2, 1 - beta2, eps, keep, stepSize, sqrtBc2);
  }
  #ce(what: string, rc: number, labels: number, v: number): void {
    if (rc >>> 0) badIndex(`${what} label`, rc >>> 0, this.#id(labels, (rc >>> 0) - 1), v);
  }
}

function checkChunk(what: string, chunk: number): void {
  if (!(Number.isInteger(chunk) && chunk >= 1)) {
    throw new RangeError(`${what}: chunk must be an integer ≥ 1, got ${chunk}`);
  }
}

function checkHeads(what: string, h: number, kvh: number, tk: number): void {
  if (!(tk >= 1)) throw new RangeError(`${what}: needs at least one key, got tk = ${tk}`);
  if (!(kvh >= 1 && h % kvh === 0)) {
    throw new RangeError(`${what}: ${h} query heads not a multiple of ${kvh} kv heads`);
  }
}

/**
 * A new kernels.wasm instance for the lean backend, from a precompiled `WebAssembly.Module`
 * (Workers refuse to compile bytes), wasm bytes, or a URL (default: wasm/kernels.wasm).
 *
 * @example
 * ```ts
 * const { kernels, memory } = await instantiateLean();
 * const base = kernels.heapBase();
 * memory.grow(Math.ceil((base + (64 << 20) - memory.buffer.byteLength) / 65536));
 * ```
 */
export async function instantiateLean(
  source?: WebAssembly.Module | BufferSource | URL,
): Promise<{ kernels: WasmLeanKernels; memory: WebAssembly.Memory }> {
  const instance = new WebAssembly.Instance(await compileKernels(source), {});
  const kernels = new WasmLeanKernels(instance);
  return { kernels, memory: kernels.memory };
}
