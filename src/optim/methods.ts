/**
 * @module Setting up the full-rank low-memory methods for a fine-tune: GaLore (SVD projectors),
 * Q-GaLore (INT4 projectors, INT8 weights without an fp32 copy, lazy subspace updates) and DCT
 * (SVD-free projection); loads the WASM kernels first. Defaults: rank 128 capped by the matrix,
 * update gap 200 (GaLore scripts) / 1 (DCT-AdamW), scale α 0.25 (GaLore C4 scripts; pass 1–4 for
 * fine-tuning, algorithms.md §1.4).
 */
import { z } from "zod";
import type { DecoderConfig } from "../models/config.ts";
import type { TrainableModel } from "../train/trainer.ts";
import { useWasmKernels } from "../linalg/active.ts";
import { buildProjectors, lowRankTargets } from "./lowrank.ts";
import { GaLoreProjector } from "./galore.ts";
import { QGaLoreProjector } from "./qgalore.ts";
import { DctProjector } from "./dct.ts";
import { int8Source, QuantizedWeights } from "./int8_weights.ts";

/** Low-rank projection methods. */
export const LOW_RANK_METHODS = ["galore", "qgalore", "dct"] as const;
/** A low-rank projection method. */
export type LowRankMethod = typeof LOW_RANK_METHODS[number];

/** Options shared by GaLore, Q-GaLore and DCT (CLI `--rank`, `--update-gap`, `--scale`). */
export const LowRankOptionsSchema = z.object({
  rank: z.number().int().positive().max(65536).default(128).describe("projection rank r"),
  updateGap: z.number().int().positive().optional()
    .describe("steps between subspace refreshes (default 200; DCT 1)"),
  scale: z.number().positive().default(0.25).describe("GaLore α applied to the projected-back update"),
  targets: z.array(z.string()).optional().describe(
    "module suffixes to project (default: all attention/MLP linears)",
  ),
  weightGroupSize: z.number().int().positive().default(256).describe("Q-GaLore INT8 weight group size"),
});
/** Parsed low-rank options. */
export type LowRankOptions = z.infer<typeof LowRankOptionsSchema>;

/**
 * Projectors (and for Q-GaLore the INT8 weight store, which replaces `weights`) for `method`.
 * Q-GaLore moves the weights it quantizes out of `weights`: the caller's map keeps only the float
 * ones (embedding, norms), so no fp32 copy of a projected weight stays reachable (≈ 4 B per
 * projected parameter: 424 MB on SmolLM-135M).
 *
 * @example
 * ```ts ignore
 * const { model, weights } = await setupLowRank("galore", config, loaded.weights, { rank: 64, scale: 1 });
 * const trainer = new Trainer(config, weights, examples, opts, "wasm", model);
 * ```
 */
export async function setupLowRank(
  method: LowRankMethod,
  config: DecoderConfig,
  weights: Map<string, Float32Array>,
  opts: Partial<LowRankOptions> = {},
): Promise<{ model: TrainableModel; weights: Map<string, Float32Array> }> {
  const o = LowRankOptionsSchema.parse(opts);
  await useWasmKernels();
  const gap = o.updateGap ?? (method === "dct" ? 1 : 200);
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
