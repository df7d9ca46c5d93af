/**
 * @module A decoder's token inputs (transformers.js names) and its KV cache, shared by the model
 * builders (gpt2.ts, llama.ts) and the graph factories of model.ts.
 */
import type { Tensor } from "../graph/ir.ts";
import { concat, input } from "../graph/ops.ts";
import type { DecoderConfig } from "./config.ts";

/** One layer's key/value cache (B, kv heads, positions, head dim), keys after RoPE. */
export interface KV {
  key: Tensor;
  value: Tensor;
}

/** Token-level graph inputs, all int64: ids and positions (B,T), mask (B, P+T); optional KV cache. */
export interface ForwardInputs {
  inputIds: Tensor;
  attentionMask: Tensor;
  positionIds: Tensor;
  /** Cached keys/values of P earlier positions, per layer (transformers.js `past_key_values.N.*`). */
  past?: KV[];
}

/** Prepend layer `i`'s cached keys/values (if any) and record the result as the layer's present cache. */
export function withPast(x: ForwardInputs, i: number, present: KV[], k: Tensor, v: Tensor): [Tensor, Tensor] {
  const p = x.past?.[i];
  const key = p ? concat([p.key, k], 2) : k, value = p ? concat([p.value, v], 2) : v;
  present.push({ key, value });
  return [key, value];
}

/** Graph input names of the token tensors (transformers.js names). */
export const INPUT_NAMES = {
  inputIds: "input_ids",
  attentionMask: "attention_mask",
  positionIds: "position_ids",
  labels: "labels",
  lossWeight: "loss_weight",
} as const;

/** Create the int64 token inputs; with `pastOf`, also `past_key_values.N.key/value` inputs. */
export function forwardInputs(pastOf?: DecoderConfig): ForwardInputs {
  // transformers.js fills a dim named "batch_size" and zeroes other named dims for the empty first cache
  const bt = pastOf ? ["batch_size", "sequence_length"] : ["batch", "seq"];
  const x: ForwardInputs = {
    inputIds: input(INPUT_NAMES.inputIds, "int64", bt),
    attentionMask: input(
      INPUT_NAMES.attentionMask,
      "int64",
      pastOf ? ["batch_size", "total_sequence_length"] : bt,
    ),
    positionIds: input(INPUT_NAMES.positionIds, "int64", bt),
  };
  if (pastOf) {
    const shape = ["batch_size", pastOf.kvHeads, "past_sequence_length", pastOf.headDim];
    x.past = Array.from({ length: pastOf.layers }, (_, i) => ({
      key: input(`past_key_values.${i}.key`, "float32", shape),
      value: input(`past_key_values.${i}.value`, "float32", shape),
    }));
  }
  return x;
}
