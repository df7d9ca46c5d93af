/**
 * @module Q-GaLore projector (Zhang et al. 2024, arXiv:2407.08296; official
 * `q_galore_projector.py`): GaLore's std projector with the basis stored as INT4 (asymmetric
 * min–max, groups of 256, `proj_bits 4`, `proj_group_size 256`) and dequantized on use, and the
 * layer-adaptive lazy subspace update: at each refresh the SIGNED cosine between the new and the
 * previous leading singular vector enters a FIFO queue (size 5); when the queue is full and its
 * mean ≥ 0.4 the layer's gap T_l doubles (γ = 2). The queue is not cleared, as in the official code.
 */
import { kernels } from "../linalg/active.ts";
import type { Quantized } from "../linalg/types.ts";
import { type GaLoreOptions, GaLoreProjector } from "./galore.ts";
import { DEFAULT_UPDATE_GAP } from "./lowrank_options.ts";

/** Q-GaLore options (defaults from run_pretrain.py). */
export interface QGaLoreOptions extends GaLoreOptions {
  bits?: 4 | 8;
  groupSize?: number;
  cosThreshold?: number;
  gamma?: number;
  queueSize?: number;
}

/** Q-GaLore projector for one m×n weight. */
export class QGaLoreProjector extends GaLoreProjector {
  gap: number;
  readonly queue: number[] = [];
  #past?: Float32Array;
  #q?: Quantized;
  readonly #qo: Required<Pick<QGaLoreOptions, "bits" | "groupSize" | "cosThreshold" | "gamma" | "queueSize">>;

  constructor(m: number, n: number, o: QGaLoreOptions) {
    super(m, n, o);
    this.gap = o.updateGap ?? DEFAULT_UPDATE_GAP.qgalore;
    this.#qo = { bits: 4, groupSize: 256, cosThreshold: 0.4, gamma: 2, queueSize: 5, ...o };
  }

  protected override due(step: number): boolean {
    return !this.#q || step % this.gap === 0;
  }

  /** Dequantized on use: only the INT4 codes stay in memory between steps. */
  protected override currentBasis(): Float32Array {
    return kernels().dequantize(this.#q!);
  }

  protected override onRefresh(lead: Float32Array): void {
    if (this.#past) {
      let d = 0, a = 0, b = 0;
      for (let i = 0; i < lead.length; i++) {
        d += lead[i] * this.#past[i], a += lead[i] ** 2, b += this.#past[i] ** 2;
      }
      this.queue.push(d / Math.sqrt(a * b || 1));
      if (this.queue.length > this.#qo.queueSize) this.queue.shift();
      const mean = this.queue.reduce((s, x) => s + x, 0) / this.queue.length;
      if (this.queue.length === this.#qo.queueSize && mean >= this.#qo.cosThreshold) {
        this.gap = Math.floor(this.gap * this.#qo.gamma);
      }
    }
    this.#past = lead.slice();
  }

  /** Keep only the quantized basis. */
  protected override setBasis(b: Float32Array): void {
    const { bits, groupSize } = this.#qo;
    this.#q = kernels().quantize(b, { bits, groupSize: Math.min(groupSize, b.length) });
  }

  override state(): Record<string, Float32Array> {
    if (!this.#q) return {};
    const q = this.#q;
    return {
      codes: Float32Array.from(q.data),
      scales: q.scales,
      zeros: Float32Array.from(q.zeros),
      meta: Float32Array.of(q.bits, q.groupSize, q.length),
      gap: Float32Array.of(this.gap),
      queue: Float32Array.from(this.queue),
      past: this.#past ?? new Float32Array(0),
      refreshes: Float32Array.of(this.refreshes),
    };
  }

  override load(s: Record<string, Float32Array>): void {
    if (s.codes) {
      const [bits, groupSize, length] = s.meta;
      this.#q = {
        bits: bits as 4 | 8,
        groupSize,
        length,
        data: Uint8Array.from(s.codes),
        scales: s.scales.slice(),
        zeros: Uint8Array.from(s.zeros),
      };
    }
    if (s.gap) this.gap = s.gap[0];
    if (s.queue) this.queue.splice(0, this.queue.length, ...s.queue);
    if (s.past?.length) this.#past = s.past.slice();
    if (s.refreshes) this.refreshes = s.refreshes[0];
  }

  /** INT4 codes + per-group scale and zero point + the leading vector kept for the cosine test. */
  override get stateBytes(): number {
    const q = this.#q;
    if (!q) return 0;
    return q.data.byteLength + q.scales.byteLength + q.zeros.byteLength + (this.#past?.byteLength ?? 0);
  }
}
