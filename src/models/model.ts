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
import { type ParamSpec, ParamTable } from "./params.ts";
import { gpt2Forward } from "./gpt2.ts";
import { llamaForward } from "./llama.ts";

/** Token-level graph inputs, all int64 (B,T). */
export interface ForwardInputs {
  inputIds: Tensor;
  attentionMask: Tensor;
  positionIds: Tensor;
}

/** Graph input names of the token tensors (transformers.js names). */
export const INPUT_NAMES = {
  inputIds: "input_ids",
  attentionMask: "attention_mask",
  positionIds: "position_ids",
  labels: "labels",
  lossWeight: "loss_weight",
} as const;

/** Create the (B,T) int64 token inputs. */
export function forwardInputs(): ForwardInputs {
  const bt = ["batch", "seq"];
  return {
    inputIds: input(INPUT_NAMES.inputIds, "int64", bt),
    attentionMask: input(INPUT_NAMES.attentionMask, "int64", bt),
    positionIds: input(INPUT_NAMES.positionIds, "int64", bt),
  };
}

/** The forward graph of `config`: logits (B,T,V) plus the parameter table it declared. */
export function buildForward(config: DecoderConfig, x: ForwardInputs = forwardInputs()): {
  logits: Tensor;
  params: ParamTable;
  inputs: ForwardInputs;
} {
  const params = new ParamTable();
  const logits = config.arch === "gpt2" ? gpt2Forward(config, params, x) : llamaForward(config, params, x);
  return { logits, params, inputs: x };
}

/** Parameter specs of `config` (HF names, storage shapes, init) without building a graph. */
export function paramSpecs(config: DecoderConfig): ParamSpec[] {
  return buildForward(config).params.specs;
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
export function buildLossGraph(config: DecoderConfig, opts: { trainable?: (name: string) => boolean } = {}): {
  outputs: Record<string, Tensor>;
  params: ParamTable;
  trainable: string[];
} {
  const { logits, params } = buildForward(config);
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
