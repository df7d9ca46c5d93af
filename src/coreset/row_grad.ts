/**
 * @module Exact per-row gradients of one linear layer from a single forward/backward over a batch: rows are
 * independent, so the gradient of row b's summed NLL is G_b = Σ_{t ∈ b} g_t a_tᵀ, with a_t the layer's input
 * and g_t = ∂ℓ/∂(layer output) — the graph outputs G (B, dOut, dIn) directly (no per-row backward). The
 * backward only runs from the loss down to that layer: for the last layer's value projection (CoLM's), a
 * forward pass plus the last layer and the head, i.e. what caching the activations below the last layer buys.
 * G is in the logical nn.Linear layout (out × in); divided by the row's target count it is the gradient of the
 * row's mean token NLL.
 */
import type { Tensor } from "../graph/ir.ts";
import { grad } from "../graph/autodiff.ts";
import { cast, input, matmul, mul, transpose, unsqueeze } from "../graph/ops.ts";
import { crossEntropySum } from "../graph/nn.ts";
import { makeBatch } from "../data/batch.ts";
import type { Example } from "../data/example.ts";
import type { DecoderConfig } from "../models/config.ts";
import { buildForward, forwardInputs, INPUT_NAMES } from "../models/model.ts";
import type { ParamSpec } from "../models/params.ts";
import type { Weights } from "../models/weights.ts";
import type { Backend } from "../runtime/backend.ts";
import { compile, type Program } from "../runtime/compile.ts";
import { tokenFeeds, weightFeeds } from "../models/feeds.ts";

/**
 * The per-row gradient graph of `module`: outputs `row_grad` (B, dOut, dIn), the gradient of each row's summed
 * NLL.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../models/config.ts";
 * const cfg = parseConfig({ model_type: "llama", vocab_size: 50, hidden_size: 16, intermediate_size: 32,
 *   num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 });
 * const g = buildRowGradGraph(cfg, "model.layers.1.self_attn.v_proj");
 * g.dims; // { dOut: 8, dIn: 16 }
 * ```
 */
export function buildRowGradGraph(
  config: DecoderConfig,
  module: string,
): { outputs: Record<string, Tensor>; specs: ParamSpec[]; dims: { dOut: number; dIn: number } } {
  let seen: { x: Tensor; y: Tensor; inDim: number; outDim: number } | undefined;
  const x = forwardInputs();
  const { logits, params } = buildForward(config, x, (m, xin, inDim, outDim, _p, y) => {
    if (m === module) seen = { x: xin, y, inDim, outDim };
    return undefined;
  });
  if (!seen) throw new Error(`row gradients: the model has no linear layer ${module}`);
  const labels = input(INPUT_NAMES.labels, "int64", ["batch", "seq"]);
  const { sum } = crossEntropySum(logits, labels);
  const [g] = grad(sum, [seen.y]);
  const a = mul(seen.x, unsqueeze(cast(x.attentionMask, "float32"), [-1])); // pads out
  return {
    outputs: { row_grad: matmul(transpose(g!, [0, 2, 1]), a) },
    specs: params.specs,
    dims: { dOut: seen.outDim, dIn: seen.inDim },
  };
}

/** Runs the per-row gradient graph of one layer over lists of examples. */
export class RowGradRunner {
  #program?: Promise<Program>;
  readonly specs: ParamSpec[];
  readonly dims: { dOut: number; dIn: number };
  readonly #outputs: Record<string, Tensor>;

  constructor(readonly config: DecoderConfig, readonly module: string, readonly backend: Backend = "wasm") {
    const g = buildRowGradGraph(config, module);
    this.specs = g.specs;
    this.dims = g.dims;
    this.#outputs = g.outputs;
  }

  /**
   * The gradient of each row's mean token NLL w.r.t. the layer's weight (logical out × in, zeros for a row
   * without targets), in the input order.
   *
   * @example
   * ```ts ignore
   * const r = new RowGradRunner(model.config, lastVProj(model.config).module, "lean");
   * const grads = await r.rowGrads(model.weights, rows); // Float32Array (dOut·dIn) per row
   * ```
   */
  async rowGrads(w: Weights, examples: Example[], batchSize = 16): Promise<Float32Array[]> {
    this.#program ??= compile(this.#outputs, { backend: this.backend });
    const s = await this.#program;
    const weights = weightFeeds(this.specs, w);
    const n = this.dims.dOut * this.dims.dIn, out: Float32Array[] = new Array(examples.length);
    for (let i = 0; i < examples.length; i += batchSize) {
      const chunk = examples.slice(i, i + batchSize), b = makeBatch(chunk);
      const res = await s.run({ ...weights, ...tokenFeeds(b) });
      const g = res.row_grad.data as Float32Array;
      chunk.forEach((e, r) => {
        const targets = e.labels.reduce((c, l) => c + (l !== -100 ? 1 : 0), 0);
        const row = Float32Array.from(g.subarray(r * n, (r + 1) * n));
        if (targets > 0) { for (let j = 0; j < n; j++) row[j] /= targets; }
        out[i + r] = row;
      });
    }
    return out;
  }

  /** Free the compiled program. */
  async release(): Promise<void> {
    if (this.#program) await (await this.#program).release();
    this.#program = undefined;
  }
}
