/**
 * @module The lean backend's kernel contract: {@link LeanKernels}, implemented by the WASM SIMD128
 * kernels (kernels.ts, wasm/lean_*.rs) and by the plain-TS reference (reference.ts). Every pointer is
 * a byte offset into one linear memory whose layout the caller plans; shapes are element counts,
 * row-major; integer tensors are i32, booleans u8 (0/1); f32 / i32 tensors start on 4-byte
 * boundaries (the reference indexes typed arrays). A pointer argument of 0 means "absent"
 * where a method says so (no tensor ever lives at offset 0: the planner starts at `heapBase()`).
 * Kernels that need scratch take a `scratch` pointer of at least `<kernel>ScratchBytes(...)` bytes.
 */

/** Element dtypes. BOOL is a u8 of 0/1; it differs from U8 only as a `cast` target (x ≠ 0). */
export const DTYPE = { F32: 0, I32: 1, U8: 2, BOOL: 3 } as const;
/** Unary f32 op codes. */
export const UNARY = {
  NEG: 0,
  EXP: 1,
  LOG: 2,
  SQRT: 3,
  RECIPROCAL: 4,
  TANH: 5,
  SIGMOID: 6,
  COS: 7,
  SIN: 8,
  SILU: 9,
  GELU_TANH: 10,
  COPY: 11,
} as const;
/** Binary op codes: arithmetic on F32 / I32 (I32 DIV truncates, x/0 = 0); EQUAL, LESS → u8; AND on u8. */
export const BINARY = { ADD: 0, SUB: 1, MUL: 2, DIV: 3, EQUAL: 4, LESS: 5, AND: 6 } as const;
/** Reduction op codes. */
export const REDUCE = { SUM: 0, MEAN: 1, MAX: 2 } as const;
/** Highest rank of the strided kernels. */
export const MAX_RANK = 6;

/**
 * Bytes per element of a dtype code.
 *
 * @example
 * ```ts
 * dtypeBytes(DTYPE.F32); // 4
 * ```
 */
export function dtypeBytes(dtype: number): number {
  if (dtype === DTYPE.F32 || dtype === DTYPE.I32) return 4;
  if (dtype === DTYPE.U8 || dtype === DTYPE.BOOL) return 1;
  throw new RangeError(`lean kernels: unknown dtype code ${dtype}`);
}

/** The kernels of the lean backend (see the module doc for addressing). */
export interface LeanKernels {
  /** out = f(x) for n f32 ({@link UNARY}); out may alias x. */
  unary(op: number, x: number, out: number, n: number): void;
  /** out = g·f′(x) for SILU and GELU_TANH. */
  unaryBackward(op: number, g: number, x: number, out: number, n: number): void;
  /**
   * out (contiguous in `shape`) = a ∘ b read at element strides (0 = broadcast); dtype = input dtype.
   * out may alias an input of the same shape and dtype size.
   */
  binary(
    op: number,
    dtype: number,
    a: number,
    b: number,
    out: number,
    shape: readonly number[],
    aStrides: readonly number[],
    bStrides: readonly number[],
  ): void;
  /** u8 logical not. */
  not(x: number, out: number, n: number): void;
  /** out = cond ? a : b with broadcasting strides (dtype of a/b: F32, I32 or U8). */
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
  ): void;
  /** Dtype conversion (f32→i32 truncates toward zero; to BOOL is x ≠ 0; bool→f32 is 0/1). */
  cast(x: number, fromDtype: number, out: number, toDtype: number, n: number): void;
  /** out (contiguous) = x[inOffset + Σ idx·inStride] (transpose, expand, slice); no overlap. */
  copyStrided(
    x: number,
    out: number,
    dtype: number,
    shape: readonly number[],
    inStrides: readonly number[],
    inOffset: number,
  ): void;
  /** out[outOffset + Σ idx·outStride] = x (contiguous) (concat parts, pad interiors); no overlap. */
  copyStridedOut(
    x: number,
    out: number,
    dtype: number,
    shape: readonly number[],
    outStrides: readonly number[],
    outOffset: number,
  ): void;
  /** out[0..n) = value. */
  fill(out: number, dtype: number, n: number, value: number): void;
  /** y += alpha·x. */
  axpy(alpha: number, x: number, y: number, n: number): void;
  /** out = alpha·x. */
  scale(x: number, alpha: number, out: number, n: number): void;
  /** Σ x² accumulated in f64. */
  sumSquares(x: number, n: number): number;
  /** out[o, i] = SUM / MEAN / MAX over r of x[o, r, i] (pairwise sums). */
  reduce(op: number, x: number, out: number, outer: number, red: number, inner: number): void;
  /** Row softmax over the last dim of [rows, n]; out may alias x. */
  softmax(x: number, out: number, rows: number, n: number): void;
  /** Row log-softmax over the last dim of [rows, n]; out may alias x. */
  logSoftmax(x: number, out: number, rows: number, n: number): void;
  /**
   * C_i (m×n) = alpha·op(A_i)·op(B_i) [+ C_i if accumulate] [+ bias (n) if bias ≠ 0] for i < batch;
   * op(A) = A (m×k) or Aᵀ (A stored k×m), op(B) = B (k×n) or Bᵀ (B stored n×k); stride 0 shares
   * one matrix across the batch. Scratch: {@link LeanKernels.gemmScratchBytes}.
   */
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
    scratch: number,
  ): void;
  /** Scratch bytes of one {@link LeanKernels.gemm} call. */
  gemmScratchBytes(m: number, n: number, k: number, transA: boolean, transB: boolean): number;
  /**
   * gemm with B group-quantized (src/linalg/quant.ts layout over B's flat storage, [n, k] when
   * transB else [k, n]): value = (q − zeros[g])·scales[g], g = flat index / groupSize; bits 8 (one
   * code per byte) or 4 (element 2j low nibble, 2j+1 high nibble of byte j). No full f32 copy of B.
   */
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
  ): void;
  /** Scratch bytes of one {@link LeanKernels.gemmQ} call. */
  gemmQScratchBytes(m: number, n: number, k: number, transB: boolean): number;
  /** Pack n 4-bit codes (one per byte) two per byte, element 2j in the low nibble of byte j. */
  packInt4(codes: number, out: number, n: number): void;
  /** out[i, :] = table[ids[i], :]; throws naming the id when it is outside [0, tableRows). */
  gatherRows(table: number, ids: number, out: number, nIds: number, rowLen: number, tableRows: number): void;
  /**
   * out[i, :] = row ids[i] of a group-quantized table (the `gemmQ` layout over the table's flat storage,
   * tableRows × rowLen): an embedding lookup without a dequantized copy of the table.
   */
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
  ): void;
  /**
   * Group-quantize x[0..len) with deterministic rounding (src/linalg/quant.ts: asymmetric min-max, `bits` 4
   * packed or 8): codes to q (≥ 4 bytes of slack past the codes), a scale and a zero point per group.
   */
  quantize(
    x: number,
    len: number,
    bits: number,
    group: number,
    q: number,
    scales: number,
    zeros: number,
  ): void;
  /** out[ids[i], :] += g[i, :] (caller zero-fills out, which has outRows rows). */
  scatterAddRows(g: number, ids: number, out: number, nIds: number, rowLen: number, outRows: number): void;
  /** out[r] = x[r, idx[r]] for x [rows, n]. */
  gatherLast(x: number, idx: number, out: number, rows: number, n: number): void;
  /** out[r, idx[r]] += g[r] (caller zero-fills out). */
  scatterLast(g: number, idx: number, out: number, rows: number, n: number): void;
  /** u8 [tq, tk]: allowed[i, j] = j ≤ tk − tq + i. */
  causalMask(out: number, tq: number, tk: number): void;
  /** u8 [n]: the `keep_mask` op of src/graph/ops.ts bit for bit (P(1) = keep). */
  keepMask(out: number, n: number, seed: number, keep: number): void;
  /** y = x/√(mean(x²) + eps)·(w + offset) over rows × d; out may alias x. */
  rmsNorm(x: number, w: number, out: number, rows: number, d: number, eps: number, offset: number): void;
  /** dx and dw (Σ over rows, += when accumulateDw) of rmsNorm; dx or dw 0 = skip; dx may alias g or x. */
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
  ): void;
  /** y = (x − μ)/√(σ² + eps)·w [+ b] over rows × d (b 0 = none); out may alias x. */
  layerNorm(x: number, w: number, b: number, out: number, rows: number, d: number, eps: number): void;
  /** dx, dw, db of layerNorm (dw/db += when accumulate); any output 0 = skip; dx may alias g or x. */
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
  ): void;
  /** HF rotate-half RoPE on x (B,H,T,E); tables (B,T,E) when tablesPerBatch else (T,E); out may alias x. */
  rope(
    x: number,
    cos: number,
    sin: number,
    out: number,
    b: number,
    h: number,
    t: number,
    e: number,
    tablesPerBatch: boolean,
  ): void;
  /** The VJP of rope: rope(g, cos, −sin) for HF tables (exact transpose for any tables). */
  ropeBackward(
    g: number,
    cos: number,
    sin: number,
    dx: number,
    b: number,
    h: number,
    t: number,
    e: number,
    tablesPerBatch: boolean,
  ): void;
  /**
   * Causal (sliding-window when window > 0) scaled dot-product attention with native GQA:
   * q (B,H,Tq,E), k/v (B,KVH,Tk,E), mask (B,Tk) i32 or 0; out (B,H,Tq,E), lse (B,H,Tq).
   * Masked scores act as −1e9 exactly like the IR (a fully masked row averages v).
   */
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
    scratch: number,
  ): void;
  /** Scratch bytes of one {@link LeanKernels.attention} call. */
  attentionScratchBytes(b: number, h: number, kvh: number, tq: number, tk: number, e: number): number;
  /** dq (B,H,Tq,E), dk/dv (B,KVH,Tk,E; summed over the query heads of a group), overwritten. */
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
    b: number,
    h: number,
    kvh: number,
    tq: number,
    tk: number,
    e: number,
    scale: number,
    window: number,
    scratch: number,
  ): void;
  /** Scratch bytes of one {@link LeanKernels.attentionBackward} call. */
  attentionBackwardScratchBytes(b: number, h: number, kvh: number, tq: number, tk: number, e: number): number;
  /**
   * lossOut[0] = Σ over rows with label ≥ 0 of logsumexp(l_r) − l_r[label_r], l = h·Wᵀ (W [v, d]
   * when transW, else [d, v]), logits computed `chunk` rows at a time.
   */
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
  ): void;
  /** nllOut[r] = logsumexp(l_r) − l_r[label_r] (0 for label < 0); lseOut[r] = logsumexp(l_r) (0 = skip). */
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
    lseOut?: number,
  ): void;
  /**
   * With per-row cotangents g (f32 [rows], the gradient of each row's NLL): dlogits_r = g_r·(softmax_r −
   * onehot_r) (0 on ignored rows), dh = dlogits·W, dw (+)= dlogitsᵀ·h; dh or dw 0 = skip. `lseIn`: the
   * forward's per-row log-sum-exp (`crossEntropyRows`' lseOut), saving a pass (0: computed here).
   */
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
    lseIn?: number,
  ): void;
  /** Scratch bytes of the crossEntropy kernels for a chunk of rows (same for all three). */
  crossEntropyScratchBytes(chunk: number, v: number, d: number): number;
  /**
   * One AdamW step in place over n parameters (src/optim/adamw.ts without a projector): m, v ←
   * moments of g; w ← w·(1 − lr·weightDecay) − lr/bc₁·m/(√v/√bc₂ + eps), bc = 1 − βˢᵗᵉᵖ, step ≥ 1.
   */
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
  ): void;
  /** First byte the caller may use (above the module's static data and stack). */
  heapBase(): number;
}

/**
 * Drop size-1 dims and merge adjacent dims that are contiguous in every stride vector, so the
 * strided kernels see a short rank and a long innermost dim. Returns rank ≥ 1.
 *
 * @example
 * ```ts
 * coalesce([2, 3, 4], [[12, 4, 1], [0, 0, 1]]); // { shape: [6, 4], strides: [[4, 1], [0, 1]] }
 * ```
 */
export function coalesce(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * shape[d])) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => outStrides[k][last] = s[d]);
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: outShape, strides: outStrides };
}

/**
 * Validate a strided call's shape and stride vectors; `what` names the kernel.
 *
 * @example
 * ```ts
 * checkStrided("binary", [2, 3], { aStrides: [3, 1], bStrides: [0, 1] });
 * ```
 */
export function checkStrided(
  what: string,
  shape: readonly number[],
  strides: Record<string, readonly number[]>,
) {
  if (shape.length > MAX_RANK) throw new RangeError(`${what}: rank ${shape.length} > ${MAX_RANK}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${what}: bad shape [${shape}]`);
  }
  for (const [name, s] of Object.entries(strides)) {
    if (s.length !== shape.length) {
      throw new RangeError(`${what}: ${name} has ${s.length} entries for rank ${shape.length}`);
    }
    if (s.some((x) => !Number.isInteger(x) || x < 0)) throw new RangeError(`${what}: bad ${name} [${s}]`);
  }
}

/**
 * Throw for an out-of-range index reported by a gather/scatter kernel (`bad` = position + 1).
 *
 * @example
 * ```ts
 * badIndex("gatherRows", 2, 7, 5); // throws "gatherRows: index 7 at position 1 is outside [0, 5)"
 * ```
 */
export function badIndex(what: string, bad: number, idValue: number, limit: number): never {
  throw new RangeError(`${what}: index ${idValue} at position ${bad - 1} is outside [0, ${limit})`);
}

/**
 * The keep_mask threshold: round(keep·2²⁴), as src/graph/ops.ts lowers it.
 *
 * @example
 * ```ts
 * keepThreshold(0.5); // 8388608
 * ```
 */
export function keepThreshold(keep: number): number {
  if (!(keep >= 0 && keep <= 1)) throw new RangeError(`keepMask: keep must be in [0, 1], got ${keep}`);
  return Math.round(keep * (1 << 24));
}

/**
 * The scalars of one AdamW step: weight-decay factor, step size lr/bc₁ and √bc₂.
 *
 * @example
 * ```ts
 * adamwScalars(1e-3, 0.9, 0.999, 0.01, 1); // { keep: 0.99999, stepSize: 0.01, sqrtBc2: 0.0316… }
 * ```
 */
export function adamwScalars(lr: number, beta1: number, beta2: number, weightDecay: number, step: number) {
  if (!(Number.isInteger(step) && step >= 1)) {
    throw new RangeError(`adamw: step must be an integer ≥ 1, got ${step}`);
  }
  return {
    keep: 1 - lr * weightDecay,
    stepSize: lr / (1 - beta1 ** step),
    sqrtBc2: Math.sqrt(1 - beta2 ** step),
  };
}
