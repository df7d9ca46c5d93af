/**
 * @module The Kronecker-factored preconditioner P(G) = (F + λI)⁻¹ vec(G) for F = Q_S Λ Q_Sᵀ ⊗ Q_A ⋯ in the
 * eigenbasis form of kronfluence (`factor/eigen.py`, algorithms.md §6.2):
 *   P(G) = Q_S [(Q_Sᵀ G Q_A) ⊘ (Λ + λ)] Q_Aᵀ,   λ = 0.1·mean(Λ) per layer (HEURISTIC_DAMPING_SCALE; floored,
 *   see DAMPING_FLOOR),
 * with Λ = λ_S λ_Aᵀ (K-FAC) or the EK-FAC refit. Run as one onnxruntime graph over all layers; besides P it
 * returns ΔᵀFΔ (undamped, for the retain-KL trust region ½ΔᵀFΔ) and Gᵀ(F + λI)⁻¹G.
 */
import type { Tensor } from "../graph/ir.ts";
import { div, input, matmul, mul, reduceSum, transposeLast } from "../graph/ops.ts";
import type { HostTensor } from "../runtime/session.ts";
import type { Backend } from "../runtime/backend.ts";
import { compile, type Program } from "../runtime/compile.ts";
import type { KfacEigen, KfacLayer } from "./kfac.ts";

/** The preconditioner graph: P = Q_S[(Q_SᵀGQ_A) ⊘ D]Q_Aᵀ, quad = Σ Λ⊙((Q_SᵀGQ_A) ⊘ D)², lin = Σ (Q_SᵀGQ_A)² ⊘ D. */
export function buildPreconditionGraph(layers: KfacLayer[]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const l of layers) {
    const m = l.module, inp = (p: string, r: number, c: number) => input(`${p}:${m}`, "float32", [r, c]);
    const g = inp("G", l.dOut, l.dIn), qs = inp("QS", l.dOut, l.dOut), qa = inp("QA", l.dIn, l.dIn);
    const lam = inp("LAM", l.dOut, l.dIn), den = inp("DEN", l.dOut, l.dIn);
    const rot = matmul(matmul(transposeLast(qs), g), qa);
    const t = div(rot, den);
    out[`P:${m}`] = matmul(matmul(qs, t), transposeLast(qa));
    out[`quad:${m}`] = reduceSum(mul(lam, mul(t, t)), [0, 1]);
    out[`lin:${m}`] = reduceSum(mul(rot, t), [0, 1]);
  }
  return out;
}

/**
 * Floor of a layer's mean eigenvalue in its damping, relative to the mean over all layers: a layer whose
 * eigenvalues underflowed (f32 squares of tiny per-sequence gradients) is damped as one with 10⁻⁶ of the
 * model's curvature.
 */
export const DAMPING_FLOOR = 1e-6;

/** Damping: absolute λ, or λ = scale·max(mean(Λ), 10⁻⁶·mean over layers) per layer. */
export interface DampingOptions {
  /** Absolute damping λ for every layer (overrides `dampingScale`). */
  damping?: number;
  /** λ = dampingScale·mean(Λ) per layer. Default 0.1 (kronfluence). */
  dampingScale?: number;
  /** λ per module (stored factors); overrides both. */
  perLayer?: Map<string, number>;
}

/** What one application returns. */
export interface Preconditioned {
  /** (F + λI)⁻¹ G per layer, logical layout. */
  P: Map<string, Float32Array>;
  /** Σ_layers PᵀFP (undamped F). */
  quad: number;
  /** Σ_layers Gᵀ(F + λI)⁻¹G. */
  lin: number;
}

/** Applies (F + λI)⁻¹ for fixed eigenfactors. */
export class Preconditioner {
  readonly damping: Map<string, number> = new Map();
  readonly #den = new Map<string, Float32Array>();
  #program?: Promise<Program>;

  constructor(readonly eig: KfacEigen, o: DampingOptions = {}, readonly backend: Backend = "wasm") {
    const means = new Map(eig.layers.map((l) => {
      const lam = eig.lambda.get(l.module)!;
      let mean = 0;
      for (const x of lam) mean += x;
      return [l.module, mean / lam.length];
    }));
    const all = [...means.values()].reduce((a, x) => a + x, 0) / Math.max(1, means.size);
    const scale = o.dampingScale ?? 0.1;
    for (const l of eig.layers) {
      const lam = eig.lambda.get(l.module)!;
      let d = o.perLayer?.get(l.module) ?? o.damping ??
        scale * Math.max(means.get(l.module)!, DAMPING_FLOOR * all);
      // eigenvalues that underflowed to 0 (a tiny model at random init) must not give λ = 0: with F̂ = 0 every
      // direction is free, and λ only sets the length of P = G/λ, which the step search rescales anyway
      if (!(d > 0) || !Number.isFinite(d)) d = all > 0 && Number.isFinite(all) ? scale * all : 1;
      this.damping.set(l.module, d);
      this.#den.set(l.module, lam.map((x) => x + d));
    }
  }

  /**
   * (F + λI)⁻¹ G for logical gradients `g` (by module).
   *
   * @example
   * ```ts ignore
   * const { P, quad } = await new Preconditioner(eig).apply(toLogical(layers, grads));
   * ```
   */
  async apply(g: Map<string, Float32Array>): Promise<Preconditioned> {
    return await this.#run(g, (m) => this.#den.get(m)!);
  }

  /**
   * The quadratic form xᵀF̂x (undamped) of logical matrices `x` by module, computed in the eigenbasis.
   *
   * @example
   * ```ts ignore
   * const kl = 0.5 * await pre.quadForm(toLogical(layers, step)); // the K-FAC model's retain KL of a step
   * ```
   */
  async quadForm(x: Map<string, Float32Array>): Promise<number> {
    const ones = new Map(this.eig.layers.map((l) => [l.module, new Float32Array(l.dOut * l.dIn).fill(1)]));
    return (await this.#run(x, (m) => ones.get(m)!)).quad;
  }

  async #run(g: Map<string, Float32Array>, den: (module: string) => Float32Array): Promise<Preconditioned> {
    this.#program ??= compile(buildPreconditionGraph(this.eig.layers), { backend: this.backend });
    const feeds: Record<string, HostTensor> = {};
    const f = (name: string, r: number, c: number, data: Float32Array) =>
      feeds[name] = { dtype: "float32", shape: [r, c], data };
    for (const l of this.eig.layers) {
      const m = l.module;
      f(`G:${m}`, l.dOut, l.dIn, g.get(m)!);
      f(`QS:${m}`, l.dOut, l.dOut, this.eig.QS.get(m)!);
      f(`QA:${m}`, l.dIn, l.dIn, this.eig.QA.get(m)!);
      f(`LAM:${m}`, l.dOut, l.dIn, this.eig.lambda.get(m)!);
      f(`DEN:${m}`, l.dOut, l.dIn, den(m));
    }
    const res = await (await this.#program).run(feeds);
    let quad = 0, lin = 0;
    const P = new Map<string, Float32Array>();
    for (const l of this.eig.layers) {
      P.set(l.module, res[`P:${l.module}`].data as Float32Array);
      quad += (res[`quad:${l.module}`].data as Float32Array)[0];
      lin += (res[`lin:${l.module}`].data as Float32Array)[0];
    }
    return { P, quad, lin };
  }

  /** Free the compiled program. */
  async release(): Promise<void> {
    if (this.#program) await (await this.#program).release();
    this.#program = undefined;
  }
}
