/**
 * @module Batch → feeds: the one place that turns a token batch and a weights map into a program's
 * graph inputs (token tensors under their transformers.js names, weights under their HF names, INT8
 * weights as their codes, scales and zero points).
 */
import type { Batch } from "../data/batch.ts";
import type { HostTensor } from "../runtime/session.ts";
import { INPUT_NAMES } from "./model.ts";
import type { ParamSpec } from "./params.ts";
import type { Weights } from "./weights.ts";

/** Where quantized weights come from (see `optim/int8_weights.ts`): their names and feeds. */
export interface WeightFeedSource {
  names: Set<string>;
  feeds(name: string, w: Weights): Record<string, HostTensor>;
}

/**
 * Token feeds of a batch: ids, attention mask, positions and labels (default the batch's own).
 *
 * @example
 * ```ts ignore
 * const res = await program.run({ ...tokenFeeds(batch), ...weightFeeds(specs, weights) });
 * ```
 */
export function tokenFeeds(b: Batch, labels: BigInt64Array = b.labels): Record<string, HostTensor> {
  const bt = [b.B, b.T];
  return {
    [INPUT_NAMES.inputIds]: { dtype: "int64", shape: bt, data: b.inputIds },
    [INPUT_NAMES.attentionMask]: { dtype: "int64", shape: bt, data: b.attentionMask },
    [INPUT_NAMES.positionIds]: { dtype: "int64", shape: bt, data: b.positionIds },
    [INPUT_NAMES.labels]: { dtype: "int64", shape: bt, data: labels },
  };
}

/**
 * Add the weight feeds of `specs` to `feeds` (quantized ones from `source`); throws naming a missing weight.
 *
 * @example
 * ```ts ignore
 * const feeds = weightFeeds(runner.specs, weights, tokenFeeds(batch));
 * ```
 */
export function weightFeeds(
  specs: readonly ParamSpec[],
  w: Weights,
  feeds: Record<string, HostTensor> = {},
  source?: WeightFeedSource,
): Record<string, HostTensor> {
  for (const s of specs) {
    if (source?.names.has(s.name)) {
      Object.assign(feeds, source.feeds(s.name, w));
      continue;
    }
    const data = w.get(s.name);
    if (!data) throw new Error(`missing weight ${s.name}`);
    feeds[s.name] = { dtype: "float32", shape: s.shape, data };
  }
  return feeds;
}

/** A scalar float32 feed. */
export function scalarFeed(x: number): HostTensor {
  return { dtype: "float32", shape: [], data: Float32Array.of(x) };
}
