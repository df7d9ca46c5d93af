/**
 * @module AdamW (Loshchilov & Hutter 2019, Algorithm 2) with PyTorch / HF semantics:
 * bias-corrected moments, ε added to √v̂, decoupled weight decay applied as w ← w(1 − lr·λ)
 * before the Adam step. Defaults β = (0.9, 0.999), ε = 1e-8, λ = 0.01 as `torch.optim.AdamW`.
 * Parameters with a {@link Projector} keep their moments in the projector's space (GaLore, Q-GaLore,
 * DCT): R = project(G), moments on R, W ← W − lr·projectBack(m̂/(√v̂+ε)); without one, plain AdamW.
 */
import type { Optimizer } from "./optimizer.ts";
import type { Projector } from "./projector.ts";

/** AdamW hyper-parameters. */
export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Which parameters get weight decay (default: all, as torch.optim.AdamW on one group). */
  decay?: (name: string) => boolean;
  /** Per-parameter gradient projectors (default: none, i.e. identity). */
  projectors?: Map<string, Projector>;
  /** Called with each parameter right after its update (Q-GaLore re-quantizes INT8 weights here). */
  afterUpdate?: (name: string, w: Float32Array) => void;
  /**
   * Delete each gradient from the map `update` was given as soon as it is consumed, so its buffer
   * can be reclaimed while the rest of the step runs (the Trainer sets it: the map is its own).
   */
  releaseGrads?: boolean;
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
  readonly projectors: Map<string, Projector>;
  readonly #after?: (name: string, w: Float32Array) => void;
  readonly #release: boolean;

  constructor(o: AdamWOptions = {}) {
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0.01;
    this.#decay = o.decay ?? (() => true);
    this.projectors = o.projectors ?? new Map();
    this.#after = o.afterUpdate;
    this.#release = o.releaseGrads ?? false;
  }

  /**
   * The gradient the next {@link update} uses for `name`: projected into the optimizer space (a new,
   * low-rank array) or copied. Lets a caller take gradients one at a time as they are produced and drop
   * each full gradient at once; pass the results to `update` with `prepared`.
   *
   * @example
   * ```ts ignore
   * runner.lossAndGrad(w, batch, 1 / n, {}, (name, g) => grads.set(name, opt.prepare(name, g)));
   * opt.update(w, grads, lr, true);
   * ```
   */
  prepare(name: string, g: Float32Array): Float32Array {
    const proj = this.projectors.get(name);
    if (!proj) return g.slice();
    const r = proj.project(g, this.step);
    return r.buffer === g.buffer ? r.slice() : r;
  }

  /**
   * One step at learning rate `lr` over every parameter that has a gradient; updates `weights` in place.
   * `prepared`: the gradients already went through {@link prepare}.
   *
   * @example
   * ```ts
   * const opt = new AdamW({ weightDecay: 0 });
   * const w = new Map([["w", new Float32Array([1])]]);
   * opt.update(w, new Map([["w", new Float32Array([0.5])]]), 0.1); // w ≈ 0.9
   * ```
   */
  update(
    weights: Map<string, Float32Array>,
    grads: Map<string, Float32Array>,
    lr: number,
    prepared = false,
  ): void {
    this.beginStep();
    for (const [name, full] of grads) {
      if (this.#release) grads.delete(name); // the full gradient is no longer needed once consumed
      this.updateOne(weights, name, full, lr, prepared);
    }
  }

  /** Start an optimizer step: the step count (and bias corrections) advance once for all parameters. */
  beginStep(): void {
    this.step++;
  }

  /**
   * Update one parameter within the current step (after {@link beginStep}): lets a caller apply each
   * gradient the moment it is produced, when nothing (no global-norm clipping) needs them all first.
   */
  updateOne(
    weights: Map<string, Float32Array>,
    name: string,
    full: Float32Array,
    lr: number,
    prepared = false,
  ): void {
    const { beta1: b1, beta2: b2, eps } = this;
    const bc1 = 1 - b1 ** this.step, bc2 = 1 - b2 ** this.step;
    const stepSize = lr / bc1, sqrtBc2 = Math.sqrt(bc2);
    const w = weights.get(name);
    if (!w) throw new Error(`AdamW: no weight for gradient ${name}`);
    const proj = this.projectors.get(name);
    const g = proj && !prepared ? proj.project(full, this.step - 1) : full;
    let m = this.m.get(name), v = this.v.get(name);
    if (!m || !v || m.length !== g.length) {
      this.m.set(name, m = new Float32Array(g.length));
      this.v.set(name, v = new Float32Array(g.length));
    }
    const keep = this.#decay(name) ? 1 - lr * this.weightDecay : 1;
    if (!proj) {
      for (let i = 0; i < w.length; i++) {
        const gi = g[i];
        const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
        const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
        w[i] = w[i] * keep - stepSize * mi / (Math.sqrt(vi) / sqrtBc2 + eps);
      }
      this.#after?.(name, w);
      return;
    }
    const u = new Float32Array(g.length); // m̂/(√v̂+ε) in the projected space
    for (let i = 0; i < g.length; i++) {
      const gi = g[i];
      const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
      const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
      u[i] = mi / bc1 / (Math.sqrt(vi) / sqrtBc2 + eps);
    }
    const dw = proj.projectBack(u);
    for (let i = 0; i < w.length; i++) w[i] = w[i] * keep - lr * dw[i];
    this.#after?.(name, w);
  }

  /** State tensors by kind, for checkpoints. */
  state(): Record<string, Map<string, Float32Array>> {
    const kinds: Record<string, Map<string, Float32Array>> = { m: this.m, v: this.v };
    for (const [name, p] of this.projectors) {
      for (const [k, a] of Object.entries(p.state())) (kinds[`proj_${k}`] ??= new Map()).set(name, a);
    }
    return kinds;
  }

  loadState(kinds: Record<string, Map<string, Float32Array>>): void {
    for (const [kind, m] of [["m", this.m], ["v", this.v]] as const) {
      m.clear();
      for (const [k, a] of kinds[kind] ?? []) m.set(k, a);
    }
    for (const [name, p] of this.projectors) {
      const s: Record<string, Float32Array> = {};
      for (const [kind, m] of Object.entries(kinds)) {
        if (kind.startsWith("proj_") && m.has(name)) s[kind.slice(5)] = m.get(name)!;
      }
      p.load(s);
    }
  }

  /** Bytes held by the optimizer state (moments and projectors). */
  get stateBytes(): number {
    let n = 0;
    for (const p of this.projectors.values()) n += p.stateBytes;
    for (const a of this.m.values()) n += a.byteLength;
    for (const a of this.v.values()) n += a.byteLength;
    return n;
  }
}
