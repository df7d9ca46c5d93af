/**
 * @module A decoder model: normalized config + parameter specs + graph factories (logits; loss
 * and gradients). Parameters are graph inputs named by their HF keys, so one compiled session
 * serves every step and gradients come back keyed like `model.safetensors`.
 */
import type { Tensor } from "../graph/ir.ts";
import { grad } from "../graph/autodiff.ts";
import { input, mul } from "../graph/ops.ts";
import { crossEntropySum } from "../graph/nn.ts";
import type { DecoderConfig } from "./config.ts";
import { type LinearAdapter, type ParamSpec, ParamTable, type WeightSource } from "./params.ts";
import { gpt2Forward } from "./gpt2.ts";
import { llamaForward } from "./llama.ts";
import { type ForwardInputs, forwardInputs, INPUT_NAMES, type KV } from "./inputs.ts";

export { type ForwardInputs, forwardInputs, INPUT_NAMES, type KV, withPast } from "./inputs.ts";

/** The forward graph of `config`: logits (B,T,V) plus the parameter table it declared. */
export function buildForward(
  config: DecoderConfig,
  x: ForwardInputs = forwardInputs(),
  adapter?: LinearAdapter,
  source?: WeightSource,
  training = false,
): {
  logits: Tensor;
  params: ParamTable;
  inputs: ForwardInputs;
  present: KV[];
} {
  const params = new ParamTable(adapter, source, training);
  const present: KV[] = [];
  const fwd = config.arch === "gpt2" ? gpt2Forward : llamaForward;
  const logits = fwd(config, params, x, present);
  return { logits, params, inputs: x, present };
}

/**
 * The forward graph with a KV cache, in transformers.js' causal-LM layout: inputs `input_ids`,
 * `attention_mask` (B, P+T), `position_ids`, `past_key_values.N.key/value`; outputs `logits` and
 * `present.N.key/value`.
 */
export function buildCachedForward(
  config: DecoderConfig,
): { outputs: Record<string, Tensor>; params: ParamTable } {
  const { logits, params, present } = buildForward(config, forwardInputs(config));
  const outputs: Record<string, Tensor> = { logits };
  present.forEach((kv, i) => {
    outputs[`present.${i}.key`] = kv.key;
    outputs[`present.${i}.value`] = kv.value;
  });
  return { outputs, params };
}

/** Parameter specs of `config` (HF names, storage shapes, init) without building a graph. */
export function paramSpecs(config: DecoderConfig, adapter?: LinearAdapter): ParamSpec[] {
  return buildForward(config, forwardInputs(), adapter).params.specs;
}

/** Output name of the gradient of parameter `name`. */
export const gradName = (name: string): string => `grad:${name}`;

/**
 * The loss-and-gradient graph. Outputs `loss_sum` (Σ NLL over target tokens, times the input
 * scalar `loss_weight`), `tokens` (number of targets) and `grad:<name>` for each trainable
 * parameter. Feeding `loss_weight = 1/N` over a batch of N target tokens gives the gradient of the
 * mean NLL; accumulation over micro-batches just sums.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const cfg = parseConfig({ model_type: "gpt2", vocab_size: 64, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 32 });
 * const { outputs } = buildLossGraph(cfg);
 * ```
 */
export function buildLossGraph(
  config: DecoderConfig,
  opts: { trainable?: (name: string) => boolean; adapter?: LinearAdapter; source?: WeightSource } = {},
): {
  outputs: Record<string, Tensor>;
  params: ParamTable;
  trainable: string[];
} {
  const train = opts.trainable ?? (() => true);
  const training = buildForward(config, forwardInputs(), opts.adapter, opts.source).params.specs.some((s) =>
    train(s.name)
  );
  const { logits, params } = buildForward(config, forwardInputs(), opts.adapter, opts.source, training);
  const labels = input(INPUT_NAMES.labels, "int64", ["batch", "seq"]);
  const weight = input(INPUT_NAMES.lossWeight, "float32", []);
  const { sum, count } = crossEntropySum(logits, labels);
  const loss = mul(sum, weight);
  const trainable = params.specs.map((s) => s.name).filter((n) => opts.trainable?.(n) ?? true);
  const grads = grad(loss, trainable.map((n) => params.inputs.get(n)!));
  const outputs: Record<string, Tensor> = { loss_sum: loss, tokens: count };
  trainable.forEach((n, i) => {
    if (!grads[i]) throw new Error(`parameter ${n} does not affect the loss`);
    outputs[gradName(n)] = grads[i]!;
  });
  return { outputs, params, trainable };
}
