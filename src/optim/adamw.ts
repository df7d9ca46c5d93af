/**
 * @module AdamW (Loshchilov & Hutter 2019, Algorithm 2) with PyTorch / HF semantics:
 * bias-corrected moments, ε added to √v̂, decoupled weight decay applied as w ← w(1 − lr·λ)
 * before the Adam step. Defaults β = (0.9, 0.999), ε = 1e-8, λ = 0.01 as `torch.optim.AdamW`.
 */
import type { Optimizer } from "./optimizer.ts";

/** AdamW hyper-parameters. */
export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Which parameters get weight decay (default: all, as torch.optim.AdamW on one group). */
  decay?: (name: string) => boolean;
}

/** Per-parameter AdamW state: step count and the two moments. */
export class AdamW implements Optimizer {
  readonly m: Map<string, Float32Array> = new Map();
  readonly v: Map<string, Float32Array> = new Map();
  step: number = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly #decay: (name: string) => boolean;

  constructor(o: AdamWOptions = {}) {
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0.01;
    this.#decay = o.decay ?? (() => true);
  }

  /**
   * One step at learning rate `lr` over every parameter that has a gradient; updates `weights` in place.
   *
   * @example
   * ```ts
   * const opt = new AdamW({ weightDecay: 0 });
   * const w = new Map([["w", new Float32Array([1])]]);
   * opt.update(w, new Map([["w", new Float32Array([0.5])]]), 0.1); // w ≈ 0.9
   * ```
   */
  update(weights: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr: number): void {
    this.step++;
    const { beta1: b1, beta2: b2, eps } = this;
    const bc1 = 1 - b1 ** this.step, bc2 = 1 - b2 ** this.step;
    const stepSize = lr / bc1, sqrtBc2 = Math.sqrt(bc2);
    for (const [name, g] of grads) {
      const w = weights.get(name);
      if (!w) throw new Error(`AdamW: no weight for gradient ${name}`);
      let m = this.m.get(name), v = this.v.get(name);
      if (!m || !v) {
        this.m.set(name, m = new Float32Array(w.length));
        this.v.set(name, v = new Float32Array(w.length));
      }
      const keep = this.#decay(name) ? 1 - lr * this.weightDecay : 1;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i];
        const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
        const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
        w[i] = w[i] * keep - stepSize * mi / (Math.sqrt(vi) / sqrtBc2 + eps);
      }
    }
  }

  /** State tensors by kind, for checkpoints. */
  state(): Record<string, Map<string, Float32Array>> {
    return { m: this.m, v: this.v };
  }

  /** Bytes held by the optimizer state. */
  get stateBytes(): number {
    let n = 0;
    for (const a of this.m.values()) n += a.byteLength;
    for (const a of this.v.values()) n += a.byteLength;
    return n;
  }
}
