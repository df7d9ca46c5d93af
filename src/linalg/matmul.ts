/**
 * @module Dense row-major matmul and transpose: the plain-TS reference of wasm `matmul`; and the
 * strided f64 product `gemm64` the other references build on (wasm/gemm.rs and gemm64.rs).
 */

/**
 * C (m×n) = A (m×k) · B (k×n), row-major, f64 accumulation per output row.
 *
 * @example
 * ```ts
 * matmul(Float32Array.of(1, 2), Float32Array.of(3, 4), 1, 2, 1); // [11]
 * ```
 */
export function matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  const c = new Float32Array(m * n), row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p];
      if (aip === 0) continue;
      const off = p * n;
      for (let j = 0; j < n; j++) row[j] += aip * b[off + j];
    }
    for (let j = 0; j < n; j++) c[i * n + j] = row[j];
  }
  return c;
}

/** Bᵀ of a row-major r×c matrix. */
export function transpose(b: Float32Array, r: number, c: number): Float32Array {
  const t = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = b[i * c + j];
  return t;
}

/**
 * C (m×n) = op(A)·B with op(A)(i, p) = a[i·ars + p·acs], B row-major k×n; f64.
 *
 * @example
 * ```ts
 * gemm64(2, 2, 2, a, 2, 1, b); // A·B;  gemm64(2, 2, 2, a, 1, 2, b) is Aᵀ·B
 * ```
 */
export function gemm64(
  m: number,
  n: number,
  k: number,
  a: ArrayLike<number>,
  ars: number,
  acs: number,
  b: ArrayLike<number>,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const co = i * n;
    for (let p = 0; p < k; p++) {
      const x = a[i * ars + p * acs];
      if (x === 0) continue;
      const bo = p * n;
      for (let j = 0; j < n; j++) c[co + j] += x * b[bo + j];
    }
  }
  return c;
}
