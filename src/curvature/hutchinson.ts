/**
 * @module Curvature probes for a set of weight matrices.
 *
 * - Hutchinson (Hutchinson 1989; AdaHessian, Yao et al. 2021, eq. 9): diag(H) ≈ E[z ⊙ Hz] and
 *   tr(H) ≈ E[zᵀHz] with Rademacher z; Hz by double backward through the IR (an HVP graph:
 *   Hz = ∇_w (∇_w L · z)), so no finite differences are needed.
 * - Gauss-Newton-Bartlett / Fisher diagonal (Sophia-G, Liu et al. 2023, Alg. 2): labels sampled
 *   from the model, ĝ = ∇ mean CE(logits, ŷ), estimate B·ĝ⊙ĝ (B = target tokens). Cheaper: one
 *   ordinary backward.
 */
import { dot, grad } from "../graph/autodiff.ts";
import type { Tensor } from "../graph/ir.ts";
import { input } from "../graph/ops.ts";
import { crossEntropySum } from "../graph/nn.ts";
import { mul } from "../graph/ops.ts";
import { makeBatch } from "../data/batch.ts";
import type { Batch } from "../data/batch.ts";
import type { Example } from "../data/example.ts";
import { sampleLabels } from "./sample_labels.ts";
import type { DecoderConfig } from "../models/config.ts";
import { buildForward, forwardInputs, INPUT_NAMES } from "../models/model.ts";
import type { ModelRunner } from "../models/runner.ts";
import type { Weights } from "../models/weights.ts";
import type { Backend } from "../runtime/backend.ts";
import { compile, type Program } from "../runtime/compile.ts";
import { scalarFeed, tokenFeeds } from "../models/feeds.ts";

/** Per-matrix curvature estimate: the diagonal (same layout as the weight) and its sum. */
export interface DiagEstimate {
  diag: Map<string, Float32Array>;
  trace: Map<string, number>;
}

/** Seeded Rademacher vectors (±1). */
export function rademacher(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13, s ^= s >>> 17, s ^= s << 5;
    out[i] = (s >>> 0) & 1 ? 1 : -1;
  }
  return out;
}

/** Computes Hessian-vector products of the mean token NLL w.r.t. chosen weights. */
export class HvpRunner {
  #program?: Promise<Program>;
  readonly shapes: Map<string, number[]>;

  constructor(readonly config: DecoderConfig, readonly names: string[], readonly backend: Backend = "wasm") {
    const { params } = buildForward(config);
    this.shapes = new Map(params.specs.map((s) => [s.name, s.shape]));
    for (const n of names) if (!this.shapes.has(n)) throw new Error(`HVP: the model has no weight ${n}`);
  }

  #build(): Record<string, Tensor> {
    const { logits, params } = buildForward(this.config, forwardInputs());
    const labels = input(INPUT_NAMES.labels, "int64", ["batch", "seq"]);
    const weight = input(INPUT_NAMES.lossWeight, "float32", []);
    const loss = mul(crossEntropySum(logits, labels).sum, weight);
    const ws = this.names.map((n) => params.inputs.get(n)!);
    const gs = grad(loss, ws).map((g, i) => {
      if (!g) throw new Error(`HVP: ${this.names[i]} does not affect the loss`);
      return g;
    });
    const zs = this.names.map((n) => input(`probe:${n}`, "float32", this.shapes.get(n)!));
    const hz = grad(dot(gs, zs), ws);
    return Object.fromEntries(this.names.map((n, i) => [`hz:${n}`, hz[i]!]));
  }

  /** H·z for probes `z` (by weight name) on `batch`, H of the mean NLL over its target tokens. */
  async hvp(w: Weights, batch: Batch, z: Map<string, Float32Array>): Promise<Map<string, Float32Array>> {
    this.#program ??= compile(this.#build(), { backend: this.backend });
    const s = await this.#program;
    const feeds = tokenFeeds(batch);
    for (const [n, shape] of this.shapes) feeds[n] = { dtype: "float32", shape, data: w.get(n)! };
    feeds[INPUT_NAMES.lossWeight] = scalarFeed(1 / batch.targetTokens);
    for (const n of this.names) {
      feeds[`probe:${n}`] = { dtype: "float32", shape: this.shapes.get(n)!, data: z.get(n)! };
    }
    const res = await s.run(feeds);
    return new Map(this.names.map((n) => [n, res[`hz:${n}`].data as Float32Array]));
  }

  /** Free the compiled program. */
  async release(): Promise<void> {
    if (this.#program) await (await this.#program).release();
    this.#program = undefined;
  }
}

/**
 * Hutchinson estimates of diag(H) and tr(H) per weight, averaged over `probes` Rademacher probes
 * and the calibration batches.
 *
 * @example
 * ```ts ignore
 * const est = await hutchinson(config, weights, examples, ["model.layers.0.self_attn.q_proj.weight"], { probes: 8 });
 * ```
 */
export async function hutchinson(
  config: DecoderConfig,
  weights: Weights,
  examples: Example[],
  names: string[],
  o: { probes?: number; batchSize?: number; seed?: number; backend?: Backend } = {},
): Promise<DiagEstimate> {
  const probes = o.probes ?? 4, bs = o.batchSize ?? 8;
  const runner = new HvpRunner(config, names, o.backend ?? "wasm");
  const diag = new Map(names.map((n) => [n, new Float32Array(weights.get(n)!.length)]));
  const batches = [];
  for (let i = 0; i < examples.length; i += bs) batches.push(makeBatch(examples.slice(i, i + bs)));
  let count = 0;
  for (const [bi, b] of batches.entries()) {
    for (let k = 0; k < probes; k++) {
      const z = new Map(
        names.map((
          n,
          j,
        ) => [n, rademacher(diag.get(n)!.length, (o.seed ?? 0) * 7919 + bi * 1000 + k * 31 + j)]),
      );
      const hz = await runner.hvp(weights, b, z);
      for (const n of names) {
        const d = diag.get(n)!, zn = z.get(n)!, h = hz.get(n)!;
        for (let i = 0; i < d.length; i++) d[i] += zn[i] * h[i];
      }
      count++;
    }
  }
  await runner.release();
  const trace = new Map<string, number>();
  for (const [n, d] of diag) {
    let t = 0;
    for (let i = 0; i < d.length; i++) t += d[i] /= count;
    trace.set(n, t);
  }
  return { diag, trace };
}

/**
 * Gauss-Newton-Bartlett diagonal B·ĝ⊙ĝ with model-sampled labels, for the runner's trainable weights.
 */
export async function gnbDiagonal(
  runner: ModelRunner,
  weights: Weights,
  batch: Batch,
  seed: number,
): Promise<Map<string, Float32Array>> {
  const logits = (await runner.logits(weights, batch)).data as Float32Array;
  const sampled: Batch = { ...batch, labels: sampleLabels(logits, batch, runner.config.vocabSize, seed) };
  const { grads } = await runner.lossAndGrad(weights, sampled, 1 / batch.targetTokens);
  const out = new Map<string, Float32Array>();
  for (const [n, g] of grads) out.set(n, g.map((x) => batch.targetTokens * x * x));
  return out;
}
