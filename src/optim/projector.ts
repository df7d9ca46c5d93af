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

export { matmul, transpose } from "../linalg/matmul.ts";
