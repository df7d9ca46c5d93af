/**
 * @module GaLore projector (Zhao et al., ICML 2024, arXiv:2403.03507, Algorithm 2; official
 * `galore_projector.py`, proj_type "std"): every `updateGap` steps (at steps 0, T, 2T, …) the top-r
 * singular vectors of the current gradient G (m×n) give the basis of the smaller side —
 * m ≥ n: Q = Vᵀ[:r] (r×n), R = G Qᵀ (m×r), ΔW = α·N Q; m < n: P = U[:, :r] (m×r), R = Pᵀ G (r×n),
 * ΔW = α·P N. Moments are kept across refreshes (not rotated), as in the official code.
 * Defaults (torchrun_main.py): rank 128, update gap 200 (scripts), scale α = 0.25.
 */
import type { Svd, SvdOptions } from "../linalg/types.ts";
import { kernels } from "../linalg/active.ts";
import { type Projector, transpose } from "./projector.ts";
import { DEFAULT_UPDATE_GAP, LOW_RANK_DEFAULTS } from "./lowrank_options.ts";

/** A top-r SVD implementation (the WASM kernel or its TS reference). */
export type TopSvd = (a: Float32Array, m: number, n: number, r: number, opts?: SvdOptions) => Svd;

/** GaLore options. */
export interface GaLoreOptions {
  rank: number;
  updateGap?: number;
  scale?: number;
  seed?: number;
  svd?: TopSvd;
}

/** GaLore's "std" projector for one m×n weight. */
export class GaLoreProjector implements Projector {
  /** "right": basis Q (r×n); "left": basis P stored transposed as Pᵀ (r×m). */
  readonly side: "right" | "left";
  readonly rank: number;
  basis?: Float32Array;
  refreshes = 0;
  refreshSeconds = 0;
  readonly #o: Required<Omit<GaLoreOptions, "svd">> & { svd: TopSvd };

  constructor(readonly m: number, readonly n: number, o: GaLoreOptions) {
    this.side = m >= n ? "right" : "left";
    this.rank = Math.min(o.rank, m, n);
    this.#o = {
      updateGap: DEFAULT_UPDATE_GAP.galore,
      scale: LOW_RANK_DEFAULTS.scale,
      seed: 0,
      svd: (...a) => kernels().svdTopR(...a),
      ...o,
    };
  }

  /** Recompute the basis from gradient `g`; returns the new basis (r × small side). */
  protected computeBasis(g: Float32Array): { basis: Float32Array; lead: Float32Array } {
    const { u, vt } = this.#o.svd(g, this.m, this.n, this.rank, { seed: this.#o.seed + this.refreshes });
    if (this.side === "right") return { basis: vt, lead: vt.slice(0, this.n) };
    const pt = transpose(u, this.m, this.rank); // (r×m)
    return { basis: pt, lead: pt.slice(0, this.m) };
  }

  /** Set the basis (subclasses quantize it). */
  protected setBasis(b: Float32Array): void {
    this.basis = b;
  }

  /** The basis for this step's matmuls. */
  protected currentBasis(): Float32Array {
    return this.basis!;
  }

  /** Whether the basis is due for a refresh at `step`. */
  protected due(step: number): boolean {
    return !this.basis || step % this.#o.updateGap === 0;
  }

  /** Refresh (if due) and return the projected gradient. */
  project(g: Float32Array, step: number): Float32Array {
    if (this.due(step)) {
      const t0 = performance.now();
      const { basis, lead } = this.computeBasis(g);
      this.onRefresh(lead);
      this.setBasis(basis);
      this.refreshes++;
      this.refreshSeconds += (performance.now() - t0) / 1000;
    }
    const b = this.currentBasis(), r = this.rank;
    return this.side === "right"
      ? kernels().matmul(g, transpose(b, r, this.n), this.m, this.n, r) // (m×n)(n×r) → m×r
      : kernels().matmul(b, g, r, this.m, this.n); // (r×m)(m×n) → r×n
  }

  /** Hook for subclasses: the leading singular vector of each refresh. */
  protected onRefresh(_lead: Float32Array): void {}

  /** α·N Q (right) or α·P N (left). */
  projectBack(u: Float32Array): Float32Array {
    const b = this.currentBasis(), r = this.rank;
    const dw = this.side === "right"
      ? kernels().matmul(u, b, this.m, r, this.n) // (m×r)(r×n)
      : kernels().matmul(b, u, this.m, r, this.n, true); // Pᵀ stored r×m: (m×r)(r×n)
    const s = this.#o.scale;
    for (let i = 0; i < dw.length; i++) dw[i] *= s;
    return dw;
  }

  get stateBytes(): number {
    return this.basis?.byteLength ?? 0;
  }

  state(): Record<string, Float32Array> {
    return this.basis ? { basis: this.basis, refreshes: Float32Array.of(this.refreshes) } : {};
  }

  load(s: Record<string, Float32Array>): void {
    if (s.basis) this.basis = s.basis;
    if (s.refreshes) this.refreshes = s.refreshes[0];
  }
}
