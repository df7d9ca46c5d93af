/**
 * @module The LoRA options of a fine-tune (the CLI's `--rank`, `--lora-alpha`, …; HTTP's `rank`,
 * `lora_alpha`, …; the library's `rank`, `loraAlpha`, …), one zod schema that holds their defaults
 * (PEFT's where PEFT has one: r 8, dropout 0), and the LoRA config they resolve to.
 */
import { z } from "npm:zod@4.6.7";
import { type LoraConfig, LoraConfigSchema } from "./lora.ts";
import { splitList } from "../util/list.ts";

/** LoRA rank allocations of the contract. */
export const RANK_ALLOCATIONS = ["uniform", "sensitivity"] as const;

/** Module-name suffixes: a list, or one comma-separated string (the CLI's `--targets`). */
export const ModuleListSchema = z.union([z.string(), z.array(z.string().min(1)).min(1)]);

/** LoRA options of a fine-tune (camelCase; the CLI's `--rank`, `--lora-alpha`, …). */
export const LoraOptionsSchema = z.object({
  rank: LoraConfigSchema.shape.rank,
  loraAlpha: z.number().positive().optional().describe("LoRA α (default: the rank, so scale 1)"),
  loraDropout: LoraConfigSchema.shape.dropout,
  rslora: LoraConfigSchema.shape.rslora,
  targets: ModuleListSchema.optional().describe(
    "module-name suffixes to adapt, a list or comma-separated (default PEFT's per model type: q_proj,v_proj; GPT-2 c_attn; Phi-3 qkv_proj)",
  ),
  rankAllocation: z.enum(RANK_ALLOCATIONS).default("uniform").describe(
    "how ranks are spread: uniform, or sensitivity (Sensitivity-LoRA, needs rankBudget)",
  ),
  rankBudget: z.number().int().positive().optional().describe(
    "sum of ranks over adapted modules (sensitivity)",
  ),
  sensitivityEstimator: z.enum(["gnb", "hutchinson"]).default("gnb").describe(
    "sensitivity: Hessian diagonal by Gauss-Newton-Bartlett (one backward per batch) or Hutchinson HVP probes (better allocation on long runs, ≈ 10× the cost)",
  ),
  calibrationRows: z.number().int().positive().max(4096).default(8).describe(
    "sensitivity: training rows the Hessian diagonal is estimated on",
  ),
  baseBits: z.union([z.literal(4), z.literal(8)]).optional().describe(
    "quantize the frozen base (QLoRA-style): attention / MLP weights in 4 or 8 bits (groups of 64 / 256), the " +
      "token embedding in 8; read inside the matmul kernels. Default: the base as stored",
  ),
});
/** Parsed LoRA options. */
export type LoraOptionsParsed = z.infer<typeof LoraOptionsSchema>;
/** The defaults of {@link LoraOptionsSchema}. */
export const LORA_DEFAULTS: LoraOptionsParsed = LoraOptionsSchema.parse({});

/**
 * The LoRA config of parsed options (targets left out when not given: the architecture's default).
 *
 * @example
 * ```ts
 * loraConfigOf(LoraOptionsSchema.parse({ rank: 16, targets: "q_proj,k_proj" }));
 * // { rank: 16, alpha: 16, dropout: 0, rslora: false, targets: ["q_proj", "k_proj"] }
 * ```
 */
export function loraConfigOf(o: LoraOptionsParsed): Partial<LoraConfig> {
  const targets = o.targets === undefined ? undefined : splitList(o.targets);
  return {
    rank: o.rank,
    alpha: o.loraAlpha ?? o.rank,
    dropout: o.loraDropout,
    rslora: o.rslora,
    ...(targets ? { targets } : {}),
  };
}
