/**
 * @module Shared result types, argument checks and the {@link LinalgKernels} interface that both
 * the plain-TS references (src/linalg/mod.ts `referenceKernels`) and the WASM kernels
 * (wasm/mod.ts `WasmKernels`) implement. Matrices are row-major Float32Arrays with explicit
 * dimensions.
 */

/** Which top-r SVD path: see {@link svdMethod}. */
export type SvdMethod = "randomized" | "gram";

/** Options of the top-r SVD (randomized path: Halko et al. 2011 defaults p = 8, q = 2). */
export interface SvdOptions {
  /** Extra sketch columns p (default 8); the sketch has min(r + p, m, n) columns. */
  oversample?: number;
  /** Power (subspace) iterations q (default 2). */
  powerIters?: number;
  /** Seed of the test matrix, of rank-deficiency fills and of inverse-iteration starts (default 0). */
  seed?: number;
  /** "auto" (default): the cheaper path for the shape, {@link svdMethod}. */
  method?: SvdMethod | "auto";
}

/** Top-r SVD A ≈ U diag(S) Vt: U m×r, S (descending), Vt r×n. */
export interface Svd {
  u: Float32Array;
  s: Float32Array;
  vt: Float32Array;
}

/** Thin QR: Q m×k with orthonormal columns, R k×k upper triangular. */
export interface Qr {
  q: Float32Array;
  r: Float32Array;
}

/** Symmetric eigendecomposition: ascending values, vectors n×n with eigenvector j in column j. */
export interface Eigh {
  values: Float32Array;
  vectors: Float32Array;
}

/** The r largest eigenpairs: values descending (r), vectors n×r with eigenvector j in column j. */
export interface EighTop {
  values: Float32Array;
  vectors: Float32Array;
}

/** Projection side of the DCT selection: "right" scores columns of G·Q, "left" rows of Qᵀ·G. */
export type DctSide = "right" | "left";

/** Options of {@link LinalgKernels.dctTopR}. */
export interface DctOptions {
  /** Default: "right" when m ≥ n, else "left" (see `dctSide`). */
  side?: DctSide;
  /** Alignment-score norm: 1 (official default `ell_norm = 1`) or 2. */
  norm?: 1 | 2;
}

/** Selected DCT columns: indices by descending score (ties: lower index first). */
export interface DctSelection {
  side: DctSide;
  indices: Int32Array;
  scores: Float32Array;
  /** S[:, idx] (m×r, right) or S[idx, :] (r×n, left): the projected gradient, no second matmul. */
  projected: Float32Array;
}

/** Options of group quantization (Q-GaLore defaults: group 256; 8 bits for weights, 4 for P). */
export interface QuantizeOptions {
  bits?: 4 | 8;
  groupSize?: number;
  stochastic?: boolean;
  seed?: number;
}

/** A group-quantized tensor; INT4 codes are packed two per byte, element 2i in the low nibble. */
export interface Quantized {
  bits: 4 | 8;
  groupSize: number;
  length: number;
  data: Uint8Array;
  scales: Float32Array;
  zeros: Uint8Array;
}

/** Every kernel, with the same signature in TS and WASM. */
export interface LinalgKernels {
  /** C (m×n) = op(A)·B with B (k×n); op(A) = A (m×k) or, with `transA`, Aᵀ for A stored k×m. */
  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, transA?: boolean): Float32Array;
  qrOrthonormalize(a: Float32Array, m: number, k: number, opts?: { seed?: number }): Qr;
  svdTopR(a: Float32Array, m: number, n: number, r: number, opts?: SvdOptions): Svd;
  eighSym(a: Float32Array, n: number): Eigh;
  /** The r largest eigenpairs of sym(a) (src/linalg/eigh_top.ts); cheaper than `eighSym` when r < n. */
  eighTopR(a: Float32Array, n: number, r: number, opts?: { seed?: number }): EighTop;
  dctBasis(n: number): Float32Array;
  dctTopR(
    g: Float32Array,
    m: number,
    n: number,
    basis: Float32Array,
    r: number,
    opts?: DctOptions,
  ): DctSelection;
  /** `dctTopR` with basis = dctBasis(N), by fast DCT-IIIs in O(m·n·log N) (src/linalg/dct_fft.ts). */
  dctTopRFft(g: Float32Array, m: number, n: number, r: number, opts?: DctOptions): DctSelection;
  quantize(x: Float32Array, opts?: QuantizeOptions): Quantized;
  dequantize(q: Quantized): Float32Array;
}

/**
 * Throw unless `n` is an integer ≥ `min`.
 *
 * @example
 * ```ts
 * checkDim("rank", 8); // ok; checkDim("rank", 0) throws
 * ```
 */
export function checkDim(name: string, n: number, min = 1): void {
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${n}`);
}

/**
 * Throw unless `a` is a Float32Array of rows·cols elements.
 *
 * @example
 * ```ts
 * checkMatrix("g", new Float32Array(6), 2, 3);
 * ```
 */
export function checkMatrix(name: string, a: Float32Array, rows: number, cols: number): void {
  if (!(a instanceof Float32Array)) throw new Error(`${name} must be a Float32Array`);
  if (a.length !== rows * cols) {
    throw new Error(`${name} must have ${rows}×${cols} = ${rows * cols} elements, got ${a.length}`);
  }
}

/**
 * The cheaper top-r SVD path for an m×n matrix, from multiply-add counts (the f64 GEMMs and the
 * eigen solver's work weigh 3× an f32 SIMD multiply-add; fitted to WASM timings of square and
 * 1:3 shapes from 192 to 448 rows with r = 128):
 * - "randomized" (src/linalg/svd.ts): 2q + 2 products with the k = r + p sketch, m·n·k each, plus
 *   2q + 2 tall QRs, 2k²·(m or n) each;
 * - "gram" (src/linalg/svd_gram.ts): exact; the small Gram matrix (½·L·s², f64), one product for
 *   the other side (L·s·r, f64) and the top-r eigenpairs (⅔s³ + s²r), s = min(m, n),
 *   L = max(m, n). It wins when k is a large share of s, e.g. 192×576 with r = 128.
 *
 * @example
 * ```ts
 * svdMethod(192, 576, 128, 136, 2); // "gram"
 * svdMethod(768, 3072, 128, 136, 2); // "randomized"
 * ```
 */
export function svdMethod(m: number, n: number, r: number, kk: number, powerIters: number): SvdMethod {
  const s = Math.min(m, n), l = Math.max(m, n);
  const gram = 3 * (l * s * s / 2 + l * s * r + 2 / 3 * s ** 3 + s * s * r);
  const randomized = (2 * powerIters + 2) * (m * n * kk + kk * kk * (m + n));
  return gram < randomized ? "gram" : "randomized";
}

/**
 * Validated SVD options with defaults; `kk` is the sketch width min(r + p, m, n), `method` the
 * resolved path.
 *
 * @example
 * ```ts
 * svdArgs(new Float32Array(12), 3, 4, 2).kk; // 3
 * ```
 */
export function svdArgs(
  a: Float32Array,
  m: number,
  n: number,
  r: number,
  o: SvdOptions = {},
): { oversample: number; powerIters: number; seed: number; kk: number; method: SvdMethod } {
  checkDim("m", m);
  checkDim("n", n);
  checkMatrix("a", a, m, n);
  if (!Number.isInteger(r) || r < 1 || r > Math.min(m, n)) {
    throw new Error(`r must be an integer in [1, min(m, n) = ${Math.min(m, n)}], got ${r}`);
  }
  const oversample = o.oversample ?? 8, powerIters = o.powerIters ?? 2;
  checkDim("oversample", oversample, 0);
  checkDim("powerIters", powerIters, 0);
  const kk = Math.min(r + oversample, m, n), want = o.method ?? "auto";
  if (want !== "auto" && want !== "randomized" && want !== "gram") {
    throw new Error(`method must be auto, randomized or gram, got ${want}`);
  }
  const method = want === "auto" ? svdMethod(m, n, r, kk, powerIters) : want;
  return { oversample, powerIters, seed: (o.seed ?? 0) >>> 0, kk, method };
}

/**
 * Throw unless `a` is an n×n Float32Array and r an integer in [1, n] (eighTopR's arguments).
 *
 * @example
 * ```ts
 * eighTopArgs(new Float32Array(4), 2, 1);
 * ```
 */
export function eighTopArgs(a: Float32Array, n: number, r: number): void {
  checkDim("n", n);
  checkMatrix("a", a, n, n);
  if (!Number.isInteger(r) || r < 1 || r > n) {
    throw new Error(`r must be an integer in [1, n = ${n}], got ${r}`);
  }
}

/**
 * Validated quantization options with defaults (throws on NaN/±∞ input, as the official asserts).
 *
 * @example
 * ```ts
 * quantArgs(new Float32Array(4)).groupSize; // 256
 * ```
 */
export function quantArgs(x: Float32Array, o: QuantizeOptions = {}): Required<QuantizeOptions> {
  if (!(x instanceof Float32Array) || x.length === 0) throw new Error("x must be a non-empty Float32Array");
  const bits = o.bits ?? 8, groupSize = o.groupSize ?? 256;
  if (bits !== 4 && bits !== 8) throw new Error(`bits must be 4 or 8, got ${bits}`);
  checkDim("groupSize", groupSize);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new Error(`x[${i}] is not finite (${x[i]})`);
  }
  return { bits, groupSize, stochastic: o.stochastic ?? false, seed: (o.seed ?? 0) >>> 0 };
}

/**
 * Throw unless `q` is a consistent quantized tensor.
 *
 * @example
 * ```ts
 * checkQuantized(quantized);
 * ```
 */
export function checkQuantized(q: Quantized): void {
  if (q.bits !== 4 && q.bits !== 8) throw new Error(`bits must be 4 or 8, got ${q.bits}`);
  checkDim("length", q.length);
  checkDim("groupSize", q.groupSize);
  const groups = Math.ceil(q.length / q.groupSize);
  const bytes = q.bits === 8 ? q.length : Math.ceil(q.length / 2);
  if (q.data.length !== bytes) throw new Error(`data must have ${bytes} bytes, got ${q.data.length}`);
  if (q.scales.length !== groups || q.zeros.length !== groups) {
    throw new Error(`scales and zeros must have ${groups} entries`);
  }
}
