/**
 * @module LoRA fine-tuning setup: adapter hook, fresh adapter weights (PEFT init) added beside the
 * frozen base weights, and writing the trained adapter in PEFT layout.
 */
import type { DecoderConfig } from "../models/config.ts";
import { paramSpecs } from "../models/model.ts";
import { initParams } from "../models/params.ts";
import type { Weights } from "../models/runner.ts";
import type { TrainableModel } from "../train/trainer.ts";
import { isLoraParam, loraAdapter, type LoraConfig, LoraConfigSchema } from "./lora.ts";
import { saveAdapter } from "./peft.ts";

/**
 * PEFT's default targets per model type (`TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`); PEFT has
 * none for Phi-3, whose fused attention projection `qkv_proj` we take (as PEFT's codegen entry).
 */
export function defaultTargets(config: DecoderConfig): string[] {
  return config.arch === "gpt2" ? ["c_attn"] : config.fused ? ["qkv_proj"] : ["q_proj", "v_proj"];
}

/** A LoRA run: the trainable model for `Trainer` and a writer for the result. */
export interface LoraSetup {
  config: LoraConfig;
  model: TrainableModel;
  /** Adapter parameter names and shapes. */
  shapes: Map<string, number[]>;
  save(dir: string, weights: Weights, baseModel: string): Promise<void>;
}

/**
 * Add fresh adapter weights (A Kaiming-uniform, B zero) to `weights` and return the setup.
 *
 * @example
 * ```ts ignore
 * const lora = setupLora(model.config, model.weights, { rank: 8, targets: ["q_proj", "v_proj"] });
 * const trainer = new Trainer(model.config, model.weights, examples, opts, "wasm", lora.model);
 * ```
 */
export function setupLora(
  config: DecoderConfig,
  weights: Weights,
  cfg: Partial<LoraConfig>,
  seed = 0,
): LoraSetup {
  const lc = LoraConfigSchema.parse({ ...cfg, targets: cfg.targets ?? defaultTargets(config) });
  const specs = paramSpecs(config, loraAdapter(lc)).filter((s) => isLoraParam(s.name));
  if (specs.length === 0) {
    throw new Error(`--targets: ${lc.targets.join(",")} match no linear layer of this ${config.arch} model`);
  }
  for (const [k, v] of initParams(specs, seed)) weights.set(k, v);
  const shapes = new Map(specs.map((s) => [s.name, s.shape]));
  return {
    config: lc,
    model: { trainable: isLoraParam, adapter: loraAdapter(lc, { train: true }) },
    shapes,
    save: (dir, w, base) =>
      saveAdapter(
        dir,
        lc,
        new Map(specs.map((s) => [s.name, w.get(s.name)!])),
        shapes,
        base,
        config.arch === "gpt2",
      ),
  };
}
