/**
 * @module Which weights get a low-rank gradient projector, and building them: GaLore's selection
 * (torchrun_main.py: linear layers whose module name contains "attn" or "mlp"; GPT-2's Conv1D
 * included, which the official code would miss), everything else stays plain AdamW. Defaults of
 * the options: rank 128 capped by the matrix, update gap 200 (GaLore scripts) / 1 (DCT-AdamW), scale
 * α 0.25 (GaLore C4 scripts; pass 1–4 for fine-tuning, algorithms.md §1.4).
 */
import { z } from "zod";
import type { DecoderConfig } from "../models/config.ts";
import { paramSpecs } from "../models/model.ts";
import type { Projector } from "./projector.ts";

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

/** Names and stored shapes [m, n] of the weights GaLore-style methods project. */
export function lowRankTargets(
  config: DecoderConfig,
  targets?: string[],
): { name: string; shape: [number, number] }[] {
  return paramSpecs(config)
    .filter((s) => s.shape.length === 2 && s.name.endsWith(".weight"))
    .filter((s) => {
      const module = s.name.slice(0, -".weight".length);
      return targets?.length
        ? targets.some((t) => module === t || module.endsWith(`.${t}`))
        : /(^|\.)(attn|self_attn|mlp)\./.test(module);
    })
    .map((s) => ({ name: s.name, shape: [s.shape[0], s.shape[1]] as [number, number] }));
}

/** One projector per targeted weight from a factory. */
export function buildProjectors(
  config: DecoderConfig,
  make: (m: number, n: number, name: string) => Projector,
  targets?: string[],
): Map<string, Projector> {
  const t = lowRankTargets(config, targets);
  if (t.length === 0) throw new Error(`--targets: ${targets?.join(",")} match no linear layer`);
  return new Map(t.map(({ name, shape: [m, n] }) => [name, make(m, n, name)]));
}
