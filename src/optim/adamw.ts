/**
 * @module AdamW (Loshchilov & Hutter 2019, Algorithm 2) with PyTorch / HF semantics:
 * bias-corrected moments, ε added to √v̂, decoupled weight decay applied as w ← w(1 − lr·λ)
 * before the Adam step. Defaults β = (0.9, 0.999), ε = 1e-8, λ = 0.01 as `torch.optim.AdamW`.
 * Parameters with a {@link Projector} keep their moments in the projector's space (GaLore, Q-GaLore,
 * DCT): R = project(G), moments on R, W ← W − lr·projectBack(m̂/(√v̂+ε)); without one, plain AdamW.
 * With `momentBits: 8` the moments are stored block-wise in 8 bits (moments8.ts, as Q-GaLore's AdamW8bit).
 */
import type { Optimizer } from "./optimizer.ts";
import type { Projector } from "./projector.ts";
import { decodeMoment, encodeMoment, type Moment8, momentBytes, zeroMoment } from "./moments8.ts";

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
  /** Bits per stored moment value: 32 (default) or 8 (block-wise quantized, 4× less state). */
  momentBits?: 32 | 8;
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
  /** 8-bit moments by parameter (with `momentBits: 8`; then `m` / `v` stay empty). */
  readonly m8: Map<string, Moment8> = new Map();
  readonly v8: Map<string, Moment8> = new Map();
  readonly momentBits: 32 | 8;
  /** Decoded moments of the parameter being updated (8-bit mode), reused across parameters. */
  #scratch = { m: new Float32Array(0), v: new Float32Array(0) };

  constructor(o: AdamWOptions = {}) {
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0.01;
    this.#decay = o.decay ?? (() => true);
    this.projectors = o.projectors ?? new Map();
    this.#after = o.afterUpdate;
    this.#release = o.releaseGrads ?? false;
    this.momentBits = o.momentBits ?? 32;
  }

  /** The moments of `name` as f32 arrays of length n (decoded scratch in 8-bit mode, fresh when new). */
  #moments(name: string, n: number): { m: Float32Array; v: Float32Array } {
    if (this.momentBits === 32) {
      let m = this.m.get(name), v = this.v.get(name);
      if (!m || !v || m.length !== n) {
        this.m.set(name, m = new Float32Array(n));
        this.v.set(name, v = new Float32Array(n));
      }
      return { m, v };
    }
    let m8 = this.m8.get(name), v8 = this.v8.get(name);
    if (!m8 || !v8 || m8.codes.length !== n) {
      this.m8.set(name, m8 = zeroMoment(n, true));
      this.v8.set(name, v8 = zeroMoment(n, false));
    }
    if (this.#scratch.m.length < n) this.#scratch = { m: new Float32Array(n), v: new Float32Array(n) };
    const m = this.#scratch.m.subarray(0, n), v = this.#scratch.v.subarray(0, n);
    decodeMoment(m8, m);
    decodeMoment(v8, v);
    return { m, v };
  }

  /** Store back what {@link #moments} handed out (8-bit mode: re-encode). */
  #storeMoments(name: string, m: Float32Array, v: Float32Array): void {
    if (this.momentBits === 32) return;
    encodeMoment(this.m8.get(name)!, m);
    encodeMoment(this.v8.get(name)!, v);
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
    if (proj) {
      const r = proj.project(g, this.step);
      return r.buffer === g.buffer ? r.slice() : r;
    }
    // one buffer per parameter, reused every step: streaming allocates nothing per step
    let buf = this.#prepared.get(name);
    if (!buf || buf.length !== g.length) this.#prepared.set(name, buf = new Float32Array(g.length));
    buf.set(g);
    return buf;
  }
  readonly #prepared = new Map<string, Float32Array>();

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
    const { m, v } = this.#moments(name, g.length);
    const keep = this.#decay(name) ? 1 - lr * this.weightDecay : 1;
    if (!proj) {
      for (let i = 0; i < w.length; i++) {
        const gi = g[i];
        const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
        const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
        w[i] = w[i] * keep - stepSize * mi / (Math.sqrt(vi) / sqrtBc2 + eps);
      }
      this.#storeMoments(name, m, v);
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
    this.#storeMoments(name, m, v);
    const dw = proj.projectBack(u);
    for (let i = 0; i < w.length; i++) w[i] = w[i] * keep - lr * dw[i];
    this.#after?.(name, w);
  }

  /** State tensors by kind, for checkpoints. */
  state(): Record<string, Map<string, Float32Array>> {
    const kinds: Record<string, Map<string, Float32Array>> = { m: this.m, v: this.v };
    for (const [kind, map] of [["m8", this.m8], ["v8", this.v8]] as const) {
      for (const [name, q] of map) {
        (kinds[kind] ??= new Map()).set(name, Float32Array.from(q.codes));
        (kinds[`${kind}_scales`] ??= new Map()).set(name, q.scales);
      }
    }
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
    for (const [kind, map, signed] of [["m8", this.m8, true], ["v8", this.v8, false]] as const) {
      map.clear();
      for (const [k, codes] of kinds[kind] ?? []) {
        map.set(k, {
          signed,
          codes: signed ? Int8Array.from(codes) : Uint8Array.from(codes),
          scales: kinds[`${kind}_scales`].get(k)!.slice(),
        });
      }
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
    for (const q of [...this.m8.values(), ...this.v8.values()]) n += momentBytes(q);
    return n;
  }
}
