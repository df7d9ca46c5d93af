/**
 * @module Per-row losses: a forward-only graph variant that outputs the cross-entropy summed per
 * row (`row_loss` (B,)) and the number of target tokens per row (`row_tokens` (B,)), so one call
 * scores a whole batch of rows (CLD's loss trajectories, CoLM's zeroth-order estimates).
 * Optionally the last layer's value projection gets an additive perturbation input `colm_dw` with
 * the weight's storage shape: y = x·(W + ΔW) for Conv1D / x·(W + ΔW)ᵀ for nn.Linear (CoLM, §8.2).
 */
import type { Tensor } from "../graph/ir.ts";
import {
  cast,
  constant,
  equal,
  gatherLast,
  input,
  logSoftmax,
  matmul,
  mul,
  neg,
  not,
  reduceSum,
  transposeLast,
  where,
} from "../graph/ops.ts";
import { makeBatch } from "../data/batch.ts";
import type { Example } from "../data/example.ts";
import type { DecoderConfig } from "../models/config.ts";
import { buildForward, forwardInputs, INPUT_NAMES } from "../models/model.ts";
import type { LinearAdapter, ParamSpec } from "../models/params.ts";
import type { Weights } from "../models/weights.ts";
import type { Backend } from "../runtime/backend.ts";
import { compile, type Program } from "../runtime/compile.ts";
import { tokenFeeds, weightFeeds } from "../models/feeds.ts";

/** Graph input name of the value-projection perturbation. */
export const PERTURB_INPUT = "colm_dw";

/** Where the last layer's value projection lives in a model's weights. */
export interface VProj {
  /** Module path given to the {@link LinearAdapter} hook. */
  module: string;
  /** Weight name (HF key). */
  weight: string;
  /** Storage shape of the weight. */
  shape: [number, number];
  /** "out_in": nn.Linear [out, in] (LLaMA); "in_out": Conv1D [in, out] (GPT-2's fused c_attn). */
  layout: "out_in" | "in_out";
  /** Flat indices (into the storage) of the value entries: all of v_proj, the last third of c_attn / the value rows of qkv_proj. */
  entries: Int32Array;
}

/**
 * The last layer's value projection of `config` (GPT-2: the value columns of the fused `c_attn`).
 *
 * @example
 * ```ts
 * import { parseConfig } from "../models/config.ts";
 * const cfg = parseConfig({ model_type: "llama", vocab_size: 50, hidden_size: 16, intermediate_size: 32,
 *   num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 });
 * lastVProj(cfg).weight; // "model.layers.1.self_attn.v_proj.weight"
 * ```
 */
export function lastVProj(config: DecoderConfig): VProj {
  const i = config.layers - 1, D = config.hidden;
  if (config.arch === "llama" && config.fused) { // Phi-3: the value rows of the fused qkv_proj [(H+2K)E, D]
    const { heads: H, kvHeads: K, headDim: E } = config, module = `model.layers.${i}.self_attn.qkv_proj`;
    const entries = Int32Array.from({ length: K * E * D }, (_, j) => (H + K) * E * D + j);
    return { module, weight: `${module}.weight`, shape: [(H + 2 * K) * E, D], layout: "out_in", entries };
  }
  if (config.arch === "llama") {
    const out = config.kvHeads * config.headDim;
    const module = `model.layers.${i}.self_attn.v_proj`;
    return {
      module,
      weight: `${module}.weight`,
      shape: [out, D],
      layout: "out_in",
      entries: Int32Array.from({ length: out * D }, (_, j) => j),
    };
  }
  const module = `${config.prefix}h.${i}.attn.c_attn`;
  const entries = new Int32Array(D * D);
  for (let r = 0, n = 0; r < D; r++) for (let c = 2 * D; c < 3 * D; c++) entries[n++] = r * 3 * D + c;
  return { module, weight: `${module}.weight`, shape: [D, 3 * D], layout: "in_out", entries };
}

/**
 * The per-row loss graph: outputs `row_loss` (B,) = Σ_t NLL of row b's target tokens and
 * `row_tokens` (B,) = their count. With `perturb`, input `colm_dw` (the last value projection's
 * storage shape) is added to that weight.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../models/config.ts";
 * const cfg = parseConfig({ model_type: "gpt2", vocab_size: 64, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 32 });
 * const { outputs } = buildRowLossGraph(cfg);
 * Object.keys(outputs); // ["row_loss", "row_tokens"]
 * ```
 */
export function buildRowLossGraph(
  config: DecoderConfig,
  perturb = false,
): { outputs: Record<string, Tensor>; specs: ParamSpec[] } {
  let adapter: LinearAdapter | undefined;
  if (perturb) {
    const vp = lastVProj(config);
    const dw = input(PERTURB_INPUT, "float32", vp.shape);
    adapter = (module, x) =>
      module !== vp.module ? undefined : matmul(x, vp.layout === "out_in" ? transposeLast(dw) : dw);
  }
  const { logits, params } = buildForward(config, forwardInputs(), adapter);
  const labels = input(INPUT_NAMES.labels, "int64", ["batch", "seq"]);
  const valid = not(equal(labels, constant(-100, [], "int64")));
  const safe = where(valid, labels, constant(0, [], "int64"));
  const w = cast(valid, "float32");
  const nll = neg(gatherLast(logSoftmax(logits, -1), safe)); // (B,T)
  return {
    outputs: { row_loss: reduceSum(mul(nll, w), [1]), row_tokens: reduceSum(w, [1]) },
    specs: params.specs,
  };
}

/** Runs the per-row loss graph over lists of examples, in length-sorted batches. */
export class RowLossRunner {
  #program?: Promise<Program>;
  readonly specs: ParamSpec[];
  readonly #outputs: Record<string, Tensor>;
  readonly vproj?: VProj;

  /** `perturb`: accept a perturbation of the last value projection (CoLM). */
  constructor(readonly config: DecoderConfig, readonly backend: Backend = "wasm", perturb = false) {
    const g = buildRowLossGraph(config, perturb);
    this.specs = g.specs;
    this.#outputs = g.outputs;
    if (perturb) this.vproj = lastVProj(config);
  }

  /**
   * Mean token NLL of each example (0 for a row without target tokens), in the input order;
   * `dw` (the last value projection's storage shape) perturbs that weight when the runner allows it.
   *
   * @example
   * ```ts ignore
   * const r = new RowLossRunner(model.config, "node");
   * const losses = await r.meanLosses(model.weights, examples); // Float64Array, one per row
   * ```
   */
  async meanLosses(
    w: Weights,
    examples: Example[],
    batchSize = 16,
    dw?: Float32Array,
  ): Promise<Float64Array> {
    if (dw && !this.vproj) throw new Error("RowLossRunner: built without a perturbation input");
    this.#program ??= compile(this.#outputs, { backend: this.backend });
    const s = await this.#program;
    const weights = weightFeeds(this.specs, w);
    if (this.vproj) {
      const vp = this.vproj;
      weights[PERTURB_INPUT] = {
        dtype: "float32",
        shape: vp.shape,
        data: dw ?? new Float32Array(vp.shape[0] * vp.shape[1]),
      };
    }
    // length-sorted batches waste little padding; results go back to the input order
    const order = examples.map((_, i) => i).sort((a, b) =>
      examples[a].inputIds.length - examples[b].inputIds.length || a - b
    );
    const out = new Float64Array(examples.length);
    for (let i = 0; i < order.length; i += batchSize) {
      const idx = order.slice(i, i + batchSize);
      const b = makeBatch(idx.map((j) => examples[j]));
      const res = await s.run({ ...weights, ...tokenFeeds(b) });
      const sum = res.row_loss.data as Float32Array, n = res.row_tokens.data as Float32Array;
      idx.forEach((j, r) => out[j] = n[r] > 0 ? sum[r] / n[r] : 0);
    }
    return out;
  }

  /** Free the compiled program. */
  async release(): Promise<void> {
    if (this.#program) await (await this.#program).release();
    this.#program = undefined;
  }
}
