/**
 * @module SVD-free DCT projector (Modoranu et al. 2025, arXiv:2505.17967; official
 * `fft_projector.py` / `dct_adamw.py`): one orthonormal DCT-II matrix Q per size N = min(m, n),
 * shared by every layer of that size; every `updateGap` steps (official default 1) the r columns
 * of Q with the largest alignment score (L1 norms of G·Q columns, or Qᵀ·G rows) are selected;
 * R = G·Q[:, idx] (m ≥ n) or Q[:, idx]ᵀ·G; ΔW = R·Q[:, idx]ᵀ or Q[:, idx]·R. Only the indices are
 * stored per layer. No α scale (as DCT-AdamW). Selection runs `dctTopRFft` (fast DCT-III through
 * Makhoul's FFT, O(m·n·log N)); Q itself is only read for the r selected columns.
 */
import { dctSide } from "../linalg/dct.ts";
import { kernels } from "../linalg/active.ts";
import type { DctSide } from "../linalg/types.ts";
import { type Projector, transpose } from "./projector.ts";
import { DEFAULT_UPDATE_GAP } from "./lowrank_options.ts";

const BASES = new Map<number, { q: Float32Array; owner: DctProjector }>();

/** DCT projector options. */
export interface DctOptions {
  rank: number;
  updateGap?: number;
  norm?: 1 | 2;
}

/** DCT projector for one m×n weight. */
export class DctProjector implements Projector {
  readonly side: DctSide;
  readonly size: number;
  readonly rank: number;
  indices?: Int32Array;
  refreshes = 0;
  refreshSeconds = 0;
  readonly #q: Float32Array;
  readonly #owner: boolean;
  #cols?: Float32Array; // Q[:, idx] as an N×r matrix, rebuilt on selection

  constructor(readonly m: number, readonly n: number, readonly o: DctOptions) {
    this.side = dctSide(m, n);
    this.size = this.side === "right" ? n : m;
    this.rank = Math.min(o.rank, this.size);
    let b = BASES.get(this.size);
    if (!b) BASES.set(this.size, b = { q: kernels().dctBasis(this.size), owner: this });
    this.#q = b.q;
    this.#owner = b.owner === this;
  }

  #select(idx: Int32Array): void {
    const N = this.size, r = this.rank, cols = new Float32Array(N * r);
    for (let i = 0; i < N; i++) for (let j = 0; j < r; j++) cols[i * r + j] = this.#q[i * N + idx[j]];
    this.indices = idx;
    this.#cols = cols;
  }

  project(g: Float32Array, step: number): Float32Array {
    if (!this.indices || step % (this.o.updateGap ?? DEFAULT_UPDATE_GAP.dct) === 0) {
      const t0 = performance.now();
      const sel = kernels().dctTopRFft(g, this.m, this.n, this.rank, {
        side: this.side,
        norm: this.o.norm ?? 1,
      });
      this.#select(sel.indices);
      this.refreshes++;
      this.refreshSeconds += (performance.now() - t0) / 1000;
      return sel.projected;
    }
    const c = this.#cols!, r = this.rank;
    return this.side === "right"
      ? kernels().matmul(g, c, this.m, this.n, r) // (m×N)(N×r)
      : kernels().matmul(c, g, r, this.m, this.n, true); // Q[:, idx]ᵀ (r×N) · G (N×n)
  }

  projectBack(u: Float32Array): Float32Array {
    const c = this.#cols!, r = this.rank;
    return this.side === "right"
      ? kernels().matmul(u, transpose(c, this.size, r), this.m, r, this.n) // (m×r)(r×N)
      : kernels().matmul(c, u, this.m, r, this.n); // (N×r)(r×n)
  }

  /** Indices (int32) per layer; the shared basis is counted once, by its first user. */
  get stateBytes(): number {
    return (this.indices?.byteLength ?? 0) + (this.#owner ? this.#q.byteLength : 0);
  }

  state(): Record<string, Float32Array> {
    return this.indices ? { indices: Float32Array.from(this.indices) } : {};
  }

  load(s: Record<string, Float32Array>): void {
    if (s.indices) this.#select(Int32Array.from(s.indices));
  }
}
