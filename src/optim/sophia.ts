/**
 * @module Sophia (Liu, Li, Hall, Liang, Ma 2023, arXiv:2305.14342, Algorithm 3 / official
 * `SophiaG`): θ ← θ(1 − lr·λ); m ← β₁m + (1−β₁)g; θ ← θ − lr·sign(m)·min(|m| / (ρ·h + ε), 1), with
 * h an EMA (β₂) of a diagonal Hessian estimate refreshed every k steps — here the
 * Gauss-Newton-Bartlett estimate B·ĝ⊙ĝ from model-sampled labels (`src/curvature/hutchinson.ts`).
 * No bias correction. Defaults from the official class: β = (0.965, 0.99), ρ = 0.04, λ = 0.1, k = 10.
 */
import type { Optimizer } from "./optimizer.ts";

/** Sophia hyper-parameters. */
export interface SophiaOptions {
  beta1?: number;
  beta2?: number;
  rho?: number;
  weightDecay?: number;
  eps?: number;
}

/** Sophia state: momentum and the Hessian-diagonal EMA per parameter. */
export class Sophia implements Optimizer {
  readonly m: Map<string, Float32Array> = new Map();
  readonly h: Map<string, Float32Array> = new Map();
  step: number = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly rho: number;
  readonly weightDecay: number;
  readonly eps: number;

  constructor(o: SophiaOptions = {}) {
    this.beta1 = o.beta1 ?? 0.965;
    this.beta2 = o.beta2 ?? 0.99;
    this.rho = o.rho ?? 0.04;
    this.weightDecay = o.weightDecay ?? 0.1;
    this.eps = o.eps ?? 1e-15;
  }

  /** Fold a fresh diagonal-Hessian estimate (e.g. B·ĝ⊙ĝ) into the EMA. */
  updateHessian(est: Map<string, Float32Array>): void {
    for (const [name, e] of est) {
      let h = this.h.get(name);
      if (!h) this.h.set(name, h = new Float32Array(e.length));
      for (let i = 0; i < e.length; i++) h[i] = this.beta2 * h[i] + (1 - this.beta2) * e[i];
    }
  }

  /**
   * One step at learning rate `lr` (updates `weights` in place).
   *
   * @example
   * ```ts
   * const opt = new Sophia({ weightDecay: 0 });
   * const w = new Map([["w", new Float32Array([1])]]);
   * opt.update(w, new Map([["w", new Float32Array([0.5])]]), 0.1); // h = 0: a sign step, w = 0.9
   * ```
   */
  update(weights: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr: number): void {
    this.step++;
    const { beta1: b1, rho, eps } = this;
    for (const [name, g] of grads) {
      const w = weights.get(name);
      if (!w) throw new Error(`Sophia: no weight for gradient ${name}`);
      let m = this.m.get(name);
      if (!m) this.m.set(name, m = new Float32Array(w.length));
      const h = this.h.get(name);
      const keep = 1 - lr * this.weightDecay;
      for (let i = 0; i < w.length; i++) {
        const mi = (m[i] = b1 * m[i] + (1 - b1) * g[i]);
        const ratio = Math.min(Math.abs(mi) / (rho * (h ? Math.max(h[i], 0) : 0) + eps), 1);
        w[i] = w[i] * keep - lr * Math.sign(mi) * ratio;
      }
    }
  }

  /** State tensors by kind, for checkpoints. */
  state(): Record<string, Map<string, Float32Array>> {
    return { m: this.m, h: this.h };
  }

  loadState(kinds: Record<string, Map<string, Float32Array>>): void {
    for (const [kind, m] of [["m", this.m], ["h", this.h]] as const) {
      m.clear();
      for (const [k, a] of kinds[kind] ?? []) m.set(k, a);
    }
  }

  /** Bytes held by the optimizer state. */
  get stateBytes(): number {
    let n = 0;
    for (const a of this.m.values()) n += a.byteLength;
    for (const a of this.h.values()) n += a.byteLength;
    return n;
  }
}
