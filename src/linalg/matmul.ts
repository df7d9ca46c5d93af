/** @module Dense row-major matmul and transpose: the plain-TS reference of wasm `matmul`. */

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
