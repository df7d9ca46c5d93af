/**
 * @module K-FAC / EK-FAC curvature of every linear layer (Martens & Grosse 2015; George et al. 2018
 * EK-FAC; kronfluence `tracker/factor.py`, algorithms.md §6.2), fit with graph outputs so activations and
 * output gradients never leave onnxruntime:
 *   A = Σ_real tokens ā āᵀ / N_tokens      (ā = layer input, with a trailing 1 for a bias)
 *   S = Σ_real tokens g gᵀ / N_targets     (g = ∂(Σ_t CE(logits_t, ŷ_t))/∂s, ŷ sampled from the model)
 * so that F ≈ A ⊗ S is the per-target-token Fisher (= GGN for softmax-CE) and ½ ΔᵀFΔ the mean KL per target
 * token (K-FAC "expand": sequence positions count as examples; pads masked). Labels are sampled from the
 * model (kronfluence `use_empirical_fisher=False`). EK-FAC refits the eigenvalues in the Kronecker eigenbasis
 * from per-sequence gradients: Λ[i,j] = Σ_n (Q_Sᵀ DW_n Q_A)²[i,j] / N_targets. Eigendecompositions use the
 * WASM kernels (src/linalg/active.ts). The preconditioner P(G) = Q_S [(Q_Sᵀ G Q_A) ⊘ (Λ + λ)] Q_Aᵀ runs
 * as an onnxruntime graph; default damping λ = 0.1·mean(Λ) per layer (kronfluence HEURISTIC_DAMPING_SCALE).
 * Matrices are in the logical nn.Linear layout (out × in[+1]); GPT-2 Conv1D weights ([in, out]) are transposed.
 */
import type { Tensor } from "../graph/ir.ts";
import { grad } from "../graph/autodiff.ts";
import {
  cast,
  concat,
  input,
  matmul,
  mul,
  reduceSum,
  reshape,
  transpose,
  transposeLast,
  unsqueeze,
} from "../graph/ops.ts";
import { crossEntropySum } from "../graph/nn.ts";
import type { Batch } from "../data/batch.ts";
import type { DecoderConfig } from "../models/config.ts";
import { buildForward, forwardInputs, INPUT_NAMES } from "../models/model.ts";
import type { ParamSpec } from "../models/params.ts";
import type { Weights } from "../models/weights.ts";
import { kernels } from "../linalg/active.ts";
import type { Eigh } from "../linalg/types.ts";
import type { Backend } from "../runtime/backend.ts";
import { compile, type Program } from "../runtime/compile.ts";
import { tokenFeeds, weightFeeds } from "../models/feeds.ts";
import { ModelRunner } from "../models/runner.ts";
import { sampleLabels } from "../curvature/sample_labels.ts";

/** One linear layer K-FAC covers. */
export interface KfacLayer {
  /** Module path, e.g. `model.layers.0.mlp.up_proj`. */
  module: string;
  weight: string;
  bias?: string;
  /** Output size (rows of the logical matrix). */
  dOut: number;
  /** Input size plus 1 with a bias (columns of the logical matrix). */
  dIn: number;
  /** Stored [in, out] (GPT-2 Conv1D). */
  transposed: boolean;
}

/**
 * The linear layers of `config` (every attention and MLP projection; embeddings, norms and the head are left
 * out), optionally filtered by module name.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../models/config.ts";
 * const cfg = parseConfig({ model_type: "gpt2", vocab_size: 64, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 32 });
 * kfacLayers(cfg).map((l) => l.module); // ["h.0.attn.c_attn", "h.0.attn.c_proj", "h.0.mlp.c_fc", "h.0.mlp.c_proj"]
 * ```
 */
export function kfacLayers(
  config: DecoderConfig,
  filter: (module: string) => boolean = () => true,
): KfacLayer[] {
  const seen: { module: string; inDim: number; outDim: number }[] = [];
  const { params } = buildForward(config, forwardInputs(), (module, _x, inDim, outDim) => {
    seen.push({ module, inDim, outDim });
    return undefined;
  });
  const names = new Set(params.specs.map((s) => s.name));
  return seen.filter((s) => filter(s.module)).map((s) => {
    const bias = names.has(`${s.module}.bias`) ? `${s.module}.bias` : undefined;
    return {
      module: s.module,
      weight: `${s.module}.weight`,
      bias,
      dOut: s.outDim,
      dIn: s.inDim + (bias ? 1 : 0),
      transposed: config.arch === "gpt2",
    };
  });
}

/** Per-layer factors: A (dIn²), S (dOut²), optional EK-FAC eigenvalues Λ (dOut × dIn). */
export interface KfacFactors {
  layers: KfacLayer[];
  A: Map<string, Float32Array>;
  S: Map<string, Float32Array>;
  /** Real (non-pad) tokens and target tokens the factors were averaged over. */
  tokens: number;
  targets: number;
}

/** Per-layer eigenbasis and eigenvalues (K-FAC: Λ = λ_S λ_Aᵀ; EK-FAC: refit). */
export interface KfacEigen {
  layers: KfacLayer[];
  QS: Map<string, Float32Array>;
  QA: Map<string, Float32Array>;
  /** Λ (dOut × dIn), ≥ 0. */
  lambda: Map<string, Float32Array>;
}

/**
 * The factor graph: sampled labels in `labels`; outputs `A:<module>` / `S:<module>` (sums over the batch),
 * `tokens`, `targets`; with `ekfac`, inputs `QS:<module>`, `QA:<module>` and outputs `L:<module>` = Σ_n
 * (Q_Sᵀ DW_n Q_A)² instead. With `raw`, also the per-token `a:<module>` (B,T,dIn) and `g:<module>` (B,T,dOut)
 * (for tests).
 */
export function buildFactorGraph(
  config: DecoderConfig,
  layers: KfacLayer[],
  o: { ekfac?: boolean; raw?: boolean } = {},
): { outputs: Record<string, Tensor>; specs: ParamSpec[] } {
  const wanted = new Map(layers.map((l) => [l.module, l]));
  const seen = new Map<string, { x: Tensor; y: Tensor }>();
  const x = forwardInputs();
  const { logits, params } = buildForward(config, x, (module, xin, _i, _o, _p, y) => {
    if (wanted.has(module)) seen.set(module, { x: xin, y });
    return undefined;
  });
  const labels = input(INPUT_NAMES.labels, "int64", ["batch", "seq"]);
  const { sum, count } = crossEntropySum(logits, labels);
  const mask = cast(x.attentionMask, "float32"); // (B,T)
  const m3 = unsqueeze(mask, [-1]);
  const gs = grad(sum, layers.map((l) => seen.get(l.module)!.y));
  const outputs: Record<string, Tensor> = { tokens: reduceSum(mask, [0, 1]), targets: count };
  const abar = new Map<Tensor, Tensor>(); // masked input (+ mask column for a bias), shared by q/k/v etc.
  layers.forEach((l, i) => {
    const xin = seen.get(l.module)!.x;
    let a = abar.get(xin);
    if (!a || (a.dim(-1) as number) !== l.dIn) {
      a = mul(xin, m3);
      if (l.bias) a = concat([a, m3], -1);
      abar.set(xin, a);
    }
    const g = gs[i]!;
    if (o.raw) outputs[`a:${l.module}`] = a, outputs[`g:${l.module}`] = g;
    if (o.ekfac) {
      const qs = input(`QS:${l.module}`, "float32", [l.dOut, l.dOut]);
      const qa = input(`QA:${l.module}`, "float32", [l.dIn, l.dIn]);
      const dw = matmul(transpose(matmul(g, qs), [0, 2, 1]), matmul(a, qa)); // (B, dOut, dIn) per sequence
      outputs[`L:${l.module}`] = reduceSum(mul(dw, dw), [0]);
      return;
    }
    const af = reshape(a, [-1, l.dIn]), gf = reshape(g, [-1, l.dOut]);
    outputs[`A:${l.module}`] = matmul(transposeLast(af), af);
    outputs[`S:${l.module}`] = matmul(transposeLast(gf), gf);
  });
  return { outputs, specs: params.specs };
}

/** Options of the factor fit. */
export interface FitOptions {
  /** Label samples per position (default 1, kronfluence). */
  samples?: number;
  seed?: number;
  /** Use the data's own labels (empirical Fisher) instead of sampled ones. Default false. */
  empirical?: boolean;
  /** Sample the labels at this temperature (default 1: the model's own distribution, the true Fisher). */
  temperature?: number;
  backend?: Backend;
}

/** Fits K-FAC factors (and EK-FAC eigenvalues) of a model's linear layers on batches. */
export class KfacFitter {
  #factor?: Promise<Program>;
  #ekfac?: Promise<Program>;
  #model?: ModelRunner;
  readonly specs: ParamSpec[];

  constructor(
    readonly config: DecoderConfig,
    readonly layers: KfacLayer[],
    readonly backend: Backend = "wasm",
  ) {
    this.specs = buildForward(config).params.specs;
  }

  /** Labels sampled from the model at the batch's target positions (−100 elsewhere). */
  async sampleLabels(w: Weights, b: Batch, seed: number, temperature = 1): Promise<BigInt64Array> {
    this.#model ??= new ModelRunner(this.config, this.backend);
    const logits = await this.#model.logits(w, b);
    return sampleLabels(logits.data as Float32Array, b, this.config.vocabSize, seed, temperature);
  }

  /** A and S averaged over `batches` (see the module header for the normalisation). */
  async factors(w: Weights, batches: Batch[], o: FitOptions = {}): Promise<KfacFactors> {
    this.#factor ??= compile(buildFactorGraph(this.config, this.layers).outputs, { backend: this.backend });
    const s = await this.#factor;
    const A = new Map<string, Float64Array>(), S = new Map<string, Float64Array>();
    let tokens = 0, targets = 0;
    const samples = o.empirical ? 1 : o.samples ?? 1;
    for (const [bi, b] of batches.entries()) {
      for (let k = 0; k < samples; k++) {
        const labels = o.empirical
          ? b.labels
          : await this.sampleLabels(w, b, (o.seed ?? 0) * 7919 + bi * 31 + k, o.temperature);
        const res = await s.run(weightFeeds(this.specs, w, tokenFeeds(b, labels)));
        if (k === 0) tokens += (res.tokens.data as Float32Array)[0];
        targets += (res.targets.data as Float32Array)[0];
        for (const l of this.layers) {
          if (k === 0) accumulate(A, l.module, res[`A:${l.module}`].data as Float32Array);
          accumulate(S, l.module, res[`S:${l.module}`].data as Float32Array);
        }
      }
    }
    if (tokens === 0 || targets === 0) throw new Error("K-FAC: the retain data has no target tokens");
    const scale = (m: Map<string, Float64Array>, n: number) =>
      new Map([...m].map(([k, v]) => [k, Float32Array.from(v, (x) => x / n)]));
    return {
      layers: this.layers,
      A: scale(A, tokens),
      S: scale(S, targets),
      tokens,
      targets: targets / samples,
    };
  }

  /** EK-FAC: refit Λ in the eigenbasis of `eig` from per-sequence gradients on `batches`. */
  async refit(w: Weights, batches: Batch[], eig: KfacEigen, o: FitOptions = {}): Promise<KfacEigen> {
    this.#ekfac ??= compile(buildFactorGraph(this.config, this.layers, { ekfac: true }).outputs, {
      backend: this.backend,
    });
    const s = await this.#ekfac;
    const L = new Map<string, Float64Array>();
    let targets = 0;
    for (const [bi, b] of batches.entries()) {
      const labels = o.empirical
        ? b.labels
        : await this.sampleLabels(w, b, (o.seed ?? 0) * 7919 + bi * 31 + 17, o.temperature);
      const feeds = weightFeeds(this.specs, w, tokenFeeds(b, labels));
      for (const l of this.layers) {
        feeds[`QS:${l.module}`] = { dtype: "float32", shape: [l.dOut, l.dOut], data: eig.QS.get(l.module)! };
        feeds[`QA:${l.module}`] = { dtype: "float32", shape: [l.dIn, l.dIn], data: eig.QA.get(l.module)! };
      }
      const res = await s.run(feeds);
      targets += (res.targets.data as Float32Array)[0];
      for (const l of this.layers) accumulate(L, l.module, res[`L:${l.module}`].data as Float32Array);
    }
    const lambda = new Map([...L].map(([k, v]) => [k, Float32Array.from(v, (x) => x / targets)]));
    return { ...eig, lambda };
  }

  /** Free compiled programs. */
  async release(): Promise<void> {
    for (const p of [this.#factor, this.#ekfac]) if (p) await (await p).release();
    await this.#model?.release();
    this.#factor = this.#ekfac = this.#model = undefined;
  }
}

function accumulate(m: Map<string, Float64Array>, k: string, v: Float32Array): void {
  let a = m.get(k);
  if (!a) m.set(k, a = new Float64Array(v.length));
  for (let i = 0; i < v.length; i++) a[i] += v[i];
}

/**
 * Eigendecompose every factor (the WASM kernels, src/linalg/active.ts); K-FAC eigenvalues
 * Λ[i,j] = max(0, s_i)·max(0, a_j).
 *
 * @example
 * ```ts ignore
 * const eig = eigenFactors(await fitter.factors(weights, batches));
 * ```
 */
export function eigenFactors(f: KfacFactors): KfacEigen {
  const k = kernels();
  const QS = new Map<string, Float32Array>(), QA = new Map<string, Float32Array>();
  const lambda = new Map<string, Float32Array>();
  const cacheA = new Map<Float32Array, Eigh>();
  for (const l of f.layers) {
    const a = f.A.get(l.module)!;
    const ea = cacheA.get(a) ?? k.eighSym(a, l.dIn);
    cacheA.set(a, ea);
    const es = k.eighSym(f.S.get(l.module)!, l.dOut);
    QS.set(l.module, es.vectors);
    QA.set(l.module, ea.vectors);
    const lam = new Float32Array(l.dOut * l.dIn);
    for (let i = 0; i < l.dOut; i++) {
      const si = Math.max(0, es.values[i]);
      for (let j = 0; j < l.dIn; j++) lam[i * l.dIn + j] = si * Math.max(0, ea.values[j]);
    }
    lambda.set(l.module, lam);
  }
  return { layers: f.layers, QS, QA, lambda };
}

/** Gradient map (by weight name, storage layout) → logical per-layer matrices (dOut × dIn). */
export function toLogical(layers: KfacLayer[], g: Map<string, Float32Array>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const l of layers) {
    const w = g.get(l.weight)!, b = l.bias ? g.get(l.bias)! : undefined;
    const inDim = l.dIn - (b ? 1 : 0), m = new Float32Array(l.dOut * l.dIn);
    for (let i = 0; i < l.dOut; i++) {
      for (let j = 0; j < inDim; j++) m[i * l.dIn + j] = l.transposed ? w[j * l.dOut + i] : w[i * inDim + j];
      if (b) m[i * l.dIn + inDim] = b[i];
    }
    out.set(l.module, m);
  }
  return out;
}

/** Logical per-layer matrices → tensors by weight name in storage layout (inverse of {@link toLogical}). */
export function fromLogical(layers: KfacLayer[], m: Map<string, Float32Array>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const l of layers) {
    const x = m.get(l.module)!, inDim = l.dIn - (l.bias ? 1 : 0);
    const w = new Float32Array(l.dOut * inDim), b = l.bias ? new Float32Array(l.dOut) : undefined;
    for (let i = 0; i < l.dOut; i++) {
      for (let j = 0; j < inDim; j++) w[l.transposed ? j * l.dOut + i : i * inDim + j] = x[i * l.dIn + j];
      if (b) b[i] = x[i * l.dIn + inDim];
    }
    out.set(l.weight, w);
    if (b) out.set(l.bias!, b);
  }
  return out;
}
