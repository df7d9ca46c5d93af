/**
 * @module Gradient projectors (GaLore's separation, Zhao et al. 2024 §3: the optimizer only gains
 * `project` and `projectBack`). A projector maps a full gradient G (m×n) to a low-rank R and an
 * optimizer-space update N back to m×n (× its scale α). The identity projector makes AdamW plain AdamW.
 */

/** Maps gradients into a (low-rank) optimizer space and updates back. */
export interface Projector {
  /** R = project(G); refreshes the subspace first when due at optimizer step `step` (0-based). */
  project(g: Float32Array, step: number): Float32Array;
  /** ΔW (m×n, row-major) for an optimizer-space update `u`, scale α included. */
  projectBack(u: Float32Array): Float32Array;
  /** Subspace refreshes so far and the seconds they took (SVD / DCT selection). */
  readonly refreshes?: number;
  readonly refreshSeconds?: number;
  /** Bytes of projector state (bases, indices, quantization scales). */
  readonly stateBytes: number;
  /** Serializable state tensors (for checkpoints). */
  state(): Record<string, Float32Array>;
  /** Restore from {@link state}. */
  load(s: Record<string, Float32Array>): void;
}

/** The identity projector: R = G, ΔW = u. */
export class IdentityProjector implements Projector {
  project(g: Float32Array): Float32Array {
    return g;
  }
  projectBack(u: Float32Array): Float32Array {
    return u;
  }
  readonly stateBytes = 0;
  state(): Record<string, Float32Array> {
    return {};
  }
  load(): void {}
}

/** C (m×n) = A (m×k) · B (k×n), row-major, f64 accumulation per output row. */
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
