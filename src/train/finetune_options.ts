/**
 * @module The options of a fine-tune and how they resolve, the one place the CLI's `train`, HTTP
 * fine-tune jobs and the library's `finetune` take them from: the training options
 * (`TrainOptionsSchema`), the method options (`MethodOptionsSchema`: LoRA's and the low-rank
 * methods', `rank` and `targets` shared, with a default per method) and the coreset options.
 * {@link resolveFinetune} turns what a caller gave into the values a run uses.
 */
import { z } from "npm:zod@4.6.7";
import { type TrainOptions, type TrainOptionsInput, TrainOptionsSchema } from "./options.ts";
import { LORA_DEFAULTS, loraConfigOf, LoraOptionsSchema, ModuleListSchema } from "../lora/options.ts";
import type { LoraConfig } from "../lora/lora.ts";
import {
  DEFAULT_UPDATE_GAP,
  LOW_RANK_DEFAULTS,
  type LowRankOptions,
  LowRankOptionsSchema,
} from "../optim/lowrank_options.ts";
import { type CoresetTrainOptions, CoresetTrainOptionsSchema } from "../coreset/train_hooks.ts";
import { PosttrainError } from "../errors.ts";
import { parseOptions as parse, pickShape as pick } from "../util/parse.ts";
import { splitList } from "../util/list.ts";

/** Fine-tuning methods of the contract. */
export const FINETUNE_METHODS = ["full", "lora", "galore", "qgalore", "dct"] as const;

/** A fine-tuning method of the contract. */
export type FinetuneMethod = typeof FINETUNE_METHODS[number];

const { rank: _rank, targets: _targets, ...loraOnly } = LoraOptionsSchema.shape;

/**
 * The method options as flags and fields: every LoRA option, the low-rank methods' `updateGap` and
 * `scale`, and `rank` / `targets`, which serve both with a default per method.
 */
export const MethodOptionsSchema = z.object({
  rank: z.number().int().positive().max(65536).optional().describe(
    `LoRA rank r (default ${LORA_DEFAULTS.rank}), or the GaLore / Q-GaLore / DCT projection rank ` +
      `(default ${LOW_RANK_DEFAULTS.rank}, capped by the matrix)`,
  ),
  ...loraOnly,
  targets: ModuleListSchema.optional().describe(
    "module-name suffixes, a list or comma-separated: LoRA's (default PEFT's per model type: q_proj,v_proj; GPT-2 c_attn; Phi-3 qkv_proj), or " +
      "the weights GaLore / Q-GaLore / DCT project (default every attention and MLP linear)",
  ),
  updateGap: LowRankOptionsSchema.shape.updateGap,
  scale: LowRankOptionsSchema.shape.scale,
});

/** LoRA and low-rank options (`rank` and `targets` serve LoRA, GaLore, Q-GaLore and DCT). */
export interface LoraOptions {
  /** LoRA rank r (default 8), or the projection rank of GaLore / Q-GaLore / DCT (default 128). */
  rank?: number;
  /** LoRA α (default: the rank, so scale 1). */
  loraAlpha?: number;
  /** Dropout on the adapter input (default 0). */
  loraDropout?: number;
  /** Scale α/√r instead of α/r. */
  rslora?: boolean;
  /** Module-name suffixes to adapt or project (default q_proj,v_proj for LoRA, GPT-2 c_attn; all attention/MLP linears for the low-rank methods). */
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
  /** Quantize the frozen base to 4 or 8 bits (QLoRA-style; default: the base as stored). */
  baseBits?: 4 | 8;
}
// The explicit interface (JSR: no inferred types in the public API) must list exactly the schema's
// options: a field added to MethodOptionsSchema fails this check until it is added above.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _sameMethod: Same<keyof LoraOptions, keyof z.input<typeof MethodOptionsSchema>> = true;
void _sameMethod;

/** What a fine-tune runs with: every option resolved, defaults applied. */
export interface ResolvedFinetune {
  method: FinetuneMethod;
  train: TrainOptions;
  /** Method lora: the adapter's config (targets absent: the architecture's default) and its rank allocation. */
  lora?: {
    config: Partial<LoraConfig>;
    rankAllocation: "uniform" | "sensitivity";
    rankBudget?: number;
    sensitivityEstimator: "gnb" | "hutchinson";
    calibrationRows: number;
    baseBits?: 4 | 8;
  };
  /** Methods galore, qgalore, dct: the projection options, the update gap resolved for the method. */
  lowRank?: LowRankOptions & { updateGap: number };
  coreset: z.infer<typeof CoresetTrainOptionsSchema>;
}

/**
 * Resolve a fine-tune's options (camelCase, as the library takes them; the CLI's parsed flags and
 * an HTTP job's fields in camelCase are the same) into the values the run uses. Errors are
 * {@link PosttrainError}s `invalid_option` naming the option.
 *
 * @example
 * ```ts
 * resolveFinetune("galore", { steps: 20 }).lowRank; // { rank: 128, updateGap: 200, scale: 0.25, … }
 * resolveFinetune("lora", { rank: 16 }).lora?.config; // { rank: 16, alpha: 16, dropout: 0, rslora: false }
 * ```
 */
export function resolveFinetune(
  method: string | undefined,
  options: TrainOptionsInput & LoraOptions & CoresetTrainOptions,
): ResolvedFinetune {
  const m = parse(z.object({ method: z.enum(FINETUNE_METHODS).default("full") }), { method }).method;
  const train = parse(TrainOptionsSchema, pick(options, TrainOptionsSchema.shape));
  const coreset = parse(CoresetTrainOptionsSchema, pick(options, CoresetTrainOptionsSchema.shape));
  const out: ResolvedFinetune = { method: m, train, coreset };
  if (m === "lora") {
    const o = parse(LoraOptionsSchema, pick(options, LoraOptionsSchema.shape));
    if (o.rankAllocation === "sensitivity" && !o.rankBudget) {
      throw new PosttrainError(
        "invalid_option",
        "rankBudget: required by rankAllocation sensitivity",
        "rankBudget",
      );
    }
    out.lora = {
      config: loraConfigOf(o),
      rankAllocation: o.rankAllocation,
      ...(o.rankBudget ? { rankBudget: o.rankBudget } : {}),
      sensitivityEstimator: o.sensitivityEstimator,
      calibrationRows: o.calibrationRows,
      ...(o.baseBits ? { baseBits: o.baseBits } : {}),
    };
  } else if (m !== "full") {
    const { targets, ...rest } = pick(options, LowRankOptionsSchema.shape);
    const o = parse(LowRankOptionsSchema, {
      ...rest,
      ...(targets === undefined ? {} : { targets: splitList(targets as string | string[]) }),
    });
    out.lowRank = { ...o, updateGap: o.updateGap ?? DEFAULT_UPDATE_GAP[m] };
  }
  return out;
}
