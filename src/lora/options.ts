/**
 * @module The LoRA options of a fine-tune (the CLI's `--rank`, `--lora-alpha`, …; HTTP's `rank`,
 * `lora_alpha`, …; the library's `rank`, `loraAlpha`, …), one zod schema that holds their defaults.
 */
import { z } from "zod";

/** LoRA rank allocations of the contract. */
export const RANK_ALLOCATIONS = ["uniform", "sensitivity"] as const;

/** Rank allocations whose engine is built. */
export const BUILT_RANK_ALLOCATIONS: readonly string[] = ["uniform", "sensitivity"];

/** LoRA options of `train` (camelCase; the CLI's `--rank`, `--lora-alpha`, …). */
export const LoraOptionsSchema = z.object({
  rank: z.number().int().positive().max(4096).default(8).describe("LoRA rank (PEFT r)"),
  loraAlpha: z.number().positive().optional().describe("LoRA α (default: the rank, so scale 1)"),
  loraDropout: z.number().min(0).lt(1).default(0).describe("dropout on the LoRA input"),
  rslora: z.boolean().default(false).describe("scale α/√r (rsLoRA)"),
  targets: z.string().optional().describe(
    "comma-separated module suffixes (default q_proj,v_proj; GPT-2 c_attn)",
  ),
  rankAllocation: z.enum(RANK_ALLOCATIONS).default("uniform").describe("how ranks are spread"),
  rankBudget: z.number().int().positive().optional().describe(
    "sum of ranks over adapted modules (sensitivity)",
  ),
  sensitivityEstimator: z.enum(["gnb", "hutchinson"]).default("gnb").describe(
    "sensitivity: Hessian diagonal by Gauss-Newton-Bartlett (one backward per batch) or Hutchinson HVP probes (better allocation on long runs, ≈ 10× the cost)",
  ),
  calibrationRows: z.number().int().positive().max(4096).default(8).describe(
    "sensitivity: training rows the Hessian diagonal is estimated on",
  ),
  updateGap: z.number().int().positive().optional().describe(
    "GaLore / Q-GaLore / DCT: steps between subspace refreshes (default 200; DCT 1)",
  ),
  scale: z.number().positive().optional().describe(
    "GaLore / Q-GaLore: scale α of the projected update (default 0.25)",
  ),
});

/** LoRA and low-rank options (`rank` and `targets` serve LoRA, GaLore, Q-GaLore and DCT). */
export interface LoraOptions {
  /** LoRA rank r (default 8). */
  rank?: number;
  /** LoRA α (default: the rank, so scale 1). */
  loraAlpha?: number;
  /** Dropout on the adapter input (default 0). */
  loraDropout?: number;
  /** Scale α/√r instead of α/r. */
  rslora?: boolean;
  /** Module-name suffixes to adapt (default q_proj,v_proj; GPT-2 c_attn). */
  targets?: string | readonly string[];
  /** How ranks are spread: "uniform", or "sensitivity" (Sensitivity-LoRA, needs rankBudget). */
  rankAllocation?: "uniform" | "sensitivity";
  /** GaLore / Q-GaLore / DCT: steps between subspace refreshes (default 200; DCT 1). */
  updateGap?: number;
  /** GaLore / Q-GaLore: scale α of the projected update (default 0.25). */
  scale?: number;
  /** Sum of ranks over adapted modules (sensitivity). */
  rankBudget?: number;
  /** Sensitivity: "gnb" (default, one backward per batch) or "hutchinson" (HVP probes). */
  sensitivityEstimator?: "gnb" | "hutchinson";
  /** Sensitivity: calibration rows (default 8). */
  calibrationRows?: number;
}
