/**
 * @module Setting up the full-rank low-memory methods for a fine-tune: GaLore (SVD projectors),
 * Q-GaLore (INT4 projectors, INT8 weights without an fp32 copy, lazy subspace updates) and DCT
 * (SVD-free projection). Their options and defaults are `LowRankOptionsSchema` (optim/lowrank.ts).
 */
import type { DecoderConfig } from "../models/config.ts";
import type { TrainableModel } from "./trainer.ts";
import { buildProjectors, lowRankTargets } from "../optim/lowrank.ts";
import {
  DEFAULT_UPDATE_GAP,
  type LowRankMethod,
  type LowRankOptions,
  LowRankOptionsSchema,
} from "../optim/lowrank_options.ts";
import { GaLoreProjector } from "../optim/galore.ts";
import { QGaLoreProjector } from "../optim/qgalore.ts";
import { DctProjector } from "../optim/dct.ts";
import { int8Source, QuantizedWeights } from "../optim/int8_weights.ts";

/**
 * Projectors (and for Q-GaLore the INT8 weight store, which replaces `weights`) for `method`.
 * Q-GaLore moves the weights it quantizes out of `weights`: the caller's map keeps only the float
 * ones (embedding, norms), so no fp32 copy of a projected weight stays reachable (≈ 4 B per
 * projected parameter: 424 MB on SmolLM-135M).
 *
 * @example
 * ```ts ignore
 * const { model, weights } = setupLowRank("galore", config, loaded.weights, { rank: 64, scale: 1 });
 * const trainer = new Trainer(config, weights, examples, opts, "wasm", model);
 * ```
 */
export function setupLowRank(
  method: LowRankMethod,
  config: DecoderConfig,
  weights: Map<string, Float32Array>,
  opts: Partial<LowRankOptions> = {},
): { model: TrainableModel; weights: Map<string, Float32Array> } {
  const o = LowRankOptionsSchema.parse(opts);
  const gap = o.updateGap ?? DEFAULT_UPDATE_GAP[method];
  const make = {
    galore: (m: number, n: number) =>
      new GaLoreProjector(m, n, { rank: o.rank, updateGap: gap, scale: o.scale }),
    qgalore: (m: number, n: number) =>
      new QGaLoreProjector(m, n, { rank: o.rank, updateGap: gap, scale: o.scale }),
    dct: (m: number, n: number) => new DctProjector(m, n, { rank: o.rank, updateGap: gap }),
  }[method];
  const model: TrainableModel = { projectors: buildProjectors(config, make, o.targets) };
  if (method !== "qgalore") return { model, weights };
  const names = new Set(lowRankTargets(config, o.targets).map((t) => t.name));
  const qw = new QuantizedWeights(weights);
  for (const n of names) {
    qw.store(n, weights.get(n)!, o.weightGroupSize, 0, false);
    weights.delete(n); // the caller's map no longer pins the fp32 copy
  }
  model.int8 = { source: int8Source(names, o.weightGroupSize), groupSize: o.weightGroupSize };
  return { model, weights: qw };
}
