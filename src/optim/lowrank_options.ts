/**
 * @module The options of the low-rank projection methods (GaLore, Q-GaLore, DCT), one zod schema
 * that holds their defaults: rank 128 capped by the matrix, update gap 200 (GaLore scripts) / 1
 * (DCT-AdamW), scale α 0.25 (GaLore C4 scripts; pass 1–4 for fine-tuning, algorithms.md §1.4),
 * Q-GaLore's INT8 weights in groups of 256.
 */
import { z } from "npm:zod@4.6.7";

/** Low-rank projection methods. */
export const LOW_RANK_METHODS = ["galore", "qgalore", "dct"] as const;
/** A low-rank projection method. */
export type LowRankMethod = typeof LOW_RANK_METHODS[number];

/** Steps between subspace refreshes when none is given: GaLore's scripts 200, DCT-AdamW's 1. */
export const DEFAULT_UPDATE_GAP: Readonly<Record<LowRankMethod, number>> = {
  galore: 200,
  qgalore: 200,
  dct: 1,
};

/** Options shared by GaLore, Q-GaLore and DCT (CLI `--rank`, `--update-gap`, `--scale`). */
export const LowRankOptionsSchema = z.object({
  rank: z.number().int().positive().max(65536).default(128).describe(
    "GaLore / Q-GaLore / DCT projection rank r (capped by the matrix)",
  ),
  updateGap: z.number().int().positive().optional().describe(
    `GaLore / Q-GaLore / DCT: steps between subspace refreshes (default ${DEFAULT_UPDATE_GAP.galore}; DCT ${DEFAULT_UPDATE_GAP.dct})`,
  ),
  scale: z.number().positive().default(0.25).describe(
    "GaLore / Q-GaLore: scale α of the projected-back update",
  ),
  targets: z.array(z.string()).optional().describe(
    "module suffixes to project (default: all attention/MLP linears)",
  ),
  weightGroupSize: z.number().int().positive().default(256).describe("Q-GaLore INT8 weight group size"),
});
/** Parsed low-rank options. */
export type LowRankOptions = z.infer<typeof LowRankOptionsSchema>;
/** The defaults of {@link LowRankOptionsSchema}. */
export const LOW_RANK_DEFAULTS: LowRankOptions = LowRankOptionsSchema.parse({});
