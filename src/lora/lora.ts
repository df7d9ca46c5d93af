/**
 * @module LoRA (Hu et al. 2021, arXiv:2106.09685, eq. 3): h = W₀x + (α/r)·B A x on targeted linear
 * layers, with PEFT's conventions (huggingface/peft `tuners/lora`): A [r, in] Kaiming-uniform
 * (a = √5 → bound 1/√in), B [out, r] zeros (a fresh adapter is a no-op), scale α/r or α/√r
 * (rsLoRA, Kalajdzievski 2023), dropout on x before A (PEFT default 0), `target_modules` matched
 * as module-name suffixes, `rank_pattern` / `alpha_pattern` keys as PEFT's `get_pattern_key`.
 */
import { z } from "npm:zod@4.6.7";
import type { Tensor } from "../graph/ir.ts";
import { add, cast, div, input, keepMask, matmul, mul, transposeLast } from "../graph/ops.ts";
import type { LinearAdapter, ParamTable } from "../models/params.ts";

/** LoRA hyper-parameters (PEFT names in camelCase). */
export const LoraConfigSchema = z.object({
  rank: z.number().int().positive().max(4096).default(8).describe("LoRA rank r (PEFT `r`)"),
  alpha: z.number().positive().default(8).describe("LoRA α; scale α/r (PEFT `lora_alpha`)"),
  dropout: z.number().min(0).lt(1).default(0).describe(
    "dropout on the adapter input (PEFT `lora_dropout`)",
  ),
  rslora: z.boolean().default(false).describe("scale α/√r instead of α/r (rsLoRA)"),
  targets: z.array(z.string().min(1)).min(1).default(["q_proj", "v_proj"])
    .describe("module-name suffixes to adapt (PEFT `target_modules`; GPT-2 e.g. c_attn)"),
  rankPattern: z.record(z.string(), z.number().int().positive()).default({})
    .describe("per-module ranks keyed by name pattern (PEFT `rank_pattern`)"),
  alphaPattern: z.record(z.string(), z.number().positive()).default({})
    .describe("per-module α keyed by name pattern (PEFT `alpha_pattern`)"),
});
/** Parsed LoRA config. */
export type LoraConfig = z.infer<typeof LoraConfigSchema>;

/** PEFT key prefix of module `m`. */
export const loraKey = (m: string, which: "A" | "B"): string => `base_model.model.${m}.lora_${which}.weight`;

/** The first pattern key matching `module` (PEFT: `(.*\.)?key$` against the full name). */
export function patternKey(keys: readonly string[], module: string): string | undefined {
  return keys.find((k) => new RegExp(`(^|\\.)${k}$`).test(module));
}

/** Whether `module` is targeted (its last name component, or its full path suffix, is a target). */
export function isTarget(cfg: LoraConfig, module: string): boolean {
  return cfg.targets.some((t) => module === t || module.endsWith(`.${t}`));
}

/** Rank and scale of module `m`. */
export function moduleRankScale(cfg: LoraConfig, m: string): { r: number; scale: number } {
  const rk = patternKey(Object.keys(cfg.rankPattern), m), ak = patternKey(Object.keys(cfg.alphaPattern), m);
  const r = rk ? cfg.rankPattern[rk] : cfg.rank, alpha = ak ? cfg.alphaPattern[ak] : cfg.alpha;
  return { r, scale: cfg.rslora ? alpha / Math.sqrt(r) : alpha / r };
}

/** Graph input name of the per-step dropout seed. */
export const DROPOUT_SEED = "lora_dropout_seed";

/**
 * The LoRA term as a linear-layer hook for the model builders. With `train`, dropout > 0 and a graph
 * that computes gradients, the graph takes an int64 scalar input `lora_dropout_seed` (a fresh mask
 * per step and module); evaluation graphs never drop.
 *
 * @example
 * ```ts ignore
 * const runner = new ModelRunner(config, "wasm", isLoraParam, loraAdapter(cfg));
 * ```
 */
export function loraAdapter(cfg: LoraConfig, opts: { train?: boolean } = {}): LinearAdapter {
  let seed: Tensor | undefined;
  let k = 0;
  return (module: string, x: Tensor, inDim: number, outDim: number, p: ParamTable) => {
    if (!isTarget(cfg, module)) return undefined;
    const { r, scale } = moduleRankScale(cfg, module);
    const a = p.add(loraKey(module, "A"), [r, inDim], { uniform: 1 / Math.sqrt(inDim) });
    const b = p.add(loraKey(module, "B"), [outDim, r], "zeros");
    let xin = x;
    if (opts.train && p.training && cfg.dropout > 0) {
      seed ??= input(DROPOUT_SEED, "int64", []);
      const keep = 1 - cfg.dropout;
      // a distinct stream per module: seed·1009 + module index
      const mask = keepMask(x, add(mul(seed, 1009), ++k), keep);
      xin = div(mul(x, cast(mask, x.dtype)), keep);
    }
    return mul(matmul(matmul(xin, transposeLast(a)), transposeLast(b)), scale); // (…, out)
  };
}

/** True for PEFT adapter weight names. */
export const isLoraParam = (name: string): boolean => /\.lora_[AB]\.weight$/.test(name);
