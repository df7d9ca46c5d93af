/**
 * @module Linear-algebra kernels for the low-rank optimizers (GaLore, Q-GaLore, DCT) and K-FAC
 * unlearning, as plain TypeScript: `referenceKernels` implements {@link LinalgKernels}, the readable
 * reference tests compare the WASM SIMD build (wasm/mod.ts, same signatures) with. The library runs
 * the WASM kernels (src/linalg/active.ts); the references are a test-only choice.
 */
import type { LinalgKernels } from "./types.ts";
import { qrOrthonormalize } from "./qr.ts";
import { svdTopR } from "./svd.ts";
import { eighTopR } from "./eigh_top.ts";
import { eighSym } from "./eigh.ts";
import { dctBasis, dctTopR } from "./dct.ts";
import { dctTopRFft } from "./dct_fft.ts";
import { dequantize, quantize } from "./quant.ts";
import { matmul, transpose } from "./matmul.ts";

export * from "./types.ts";
export { qrOrthonormalize } from "./qr.ts";
export { svdTopR } from "./svd.ts";
export { svdGram } from "./svd_gram.ts";
export { eighTopR } from "./eigh_top.ts";
export { eighSym } from "./eigh.ts";
export { dctBasis, dctSide, dctTopR } from "./dct.ts";
export { dct3, dctTopRFft } from "./dct_fft.ts";
export { fftInPlace, fftPlan } from "./fft.ts";
export { dequantize, packInt4, quantize, unpackInt4 } from "./quant.ts";
export { gemm64, matmul, transpose } from "./matmul.ts";

/**
 * The plain-TS kernel set.
 *
 * @example
 * ```ts
 * const k: LinalgKernels = referenceKernels;
 * const { values } = k.eighSym(new Float32Array([2, 1, 1, 2]), 2);
 * ```
 */
export const referenceKernels: LinalgKernels = {
  matmul: (a, b, m, k, n, transA) => matmul(transA ? transpose(a, k, m) : a, b, m, k, n),
  qrOrthonormalize,
  svdTopR,
  eighSym,
  eighTopR,
  dctBasis,
  dctTopR,
  dctTopRFft,
  quantize,
  dequantize,
};
