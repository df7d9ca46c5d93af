/**
 * @module Fine-tune setup shared by the library's `finetune` (`src/api.ts`, which the CLI's `train`
 * calls) and fine-tune jobs: the method check, the tokenized rows (with a row selection), the
 * trainer for a method (full, LoRA, GaLore / Q-GaLore / DCT; CoLM per-step coresets) and writing
 * what a finished run produced.
 */
import { type LoadedModel, loadModel, saveModel } from "../models/load.ts";
import type { Row } from "../data/rows.ts";
import type { Example } from "../data/example.ts";
import { encodeFor } from "../data/load.ts";
import { Trainer } from "./trainer.ts";
import type { z } from "zod";
import {
  colmHooks,
  type CoresetTrainOptions,
  CoresetTrainOptionsSchema,
  resolveIndices,
  rowSources,
} from "../coreset/train_hooks.ts";
import type { TrainOptionsInput } from "./options.ts";
import type { Backend } from "../runtime/backend.ts";
import { defaultTargets, type LoraSetup, setupLora } from "../lora/setup.ts";
import { sensitivityRanks } from "../lora/sensitivity.ts";
import { adapterList } from "../lora/with_adapters.ts";
import { setupLowRank } from "./lowrank_setup.ts";
import { PosttrainError } from "../errors.ts";
import { BUILT_FINETUNE_METHODS, type FinetuneMethod } from "./finetune_options.ts";
import { BUILT_RANK_ALLOCATIONS, type LoraOptions } from "../lora/options.ts";

export type { FinetuneMethod, LoraOptions };

/** Throw the 422 of a method (or rank allocation) whose engine is not built yet. */
export function checkMethod(method: string, rankAllocation = "uniform"): void {
  if (!BUILT_FINETUNE_METHODS.includes(method)) {
    throw new PosttrainError(
      "not_built",
      `method ${method}: not built yet (available: ${BUILT_FINETUNE_METHODS.join(", ")})`,
      "method",
    );
  }
  if (method === "lora" && !BUILT_RANK_ALLOCATIONS.includes(rankAllocation)) {
    throw new PosttrainError(
      "not_built",
      `rankAllocation ${rankAllocation}: not built yet`,
      "rankAllocation",
    );
  }
}

/** What {@link prepareFinetune} sets up. */
export interface PreparedFinetune {
  model: LoadedModel;
  examples: Example[];
  trainer: Trainer;
  /** Set for method "lora": the adapter being trained. */
  lora?: LoraSetup;
}

/**
 * The coreset options of a fine-tune, checked (422s naming `dataIndices`, `coreset`, `coresetRatio`),
 * and the rows and examples they keep: `dataIndices` picks rows (in its order) of `rows`.
 *
 * @example
 * ```ts ignore
 * const { rows, examples } = await applyCoresetOptions({ dataIndices: [2, 0] }, rows, examples);
 * ```
 */
export async function applyCoresetOptions(
  input: CoresetTrainOptions,
  rows: Row[],
  examples: Example[],
): Promise<{ options: z.infer<typeof CoresetTrainOptionsSchema>; rows: Row[]; examples: Example[] }> {
  const r = CoresetTrainOptionsSchema.safeParse({
    coreset: input.coreset,
    coresetRatio: input.coresetRatio,
    dataIndices: input.dataIndices,
  });
  if (!r.success) {
    const path = r.error.issues[0].path.join(".") || "dataIndices";
    throw new PosttrainError("invalid_option", `${path}: ${r.error.issues[0].message}`, path);
  }
  const options = r.data;
  if (options.dataIndices === undefined) return { options, rows, examples };
  let idx: number[];
  try {
    idx = await resolveIndices(options.dataIndices, examples.length);
  } catch (e) {
    throw new PosttrainError("invalid_option", (e as Error).message, "dataIndices");
  }
  const kept = idx.map((i) => examples[i]);
  if (!kept.some((e) => e.labels.some((l) => l !== -100))) {
    throw new PosttrainError(
      "invalid_option",
      "dataIndices: the selected rows have no target tokens",
      "dataIndices",
    );
  }
  return { options, rows: idx.map((i) => rows[i]), examples: kept };
}

/** A model, its tokenized rows and a trainer over them (shared by `finetune` and the job runner). */
export async function prepareFinetune(o: {
  modelDir: string;
  rows: Row[];
  method?: FinetuneMethod;
  truncate?: boolean;
  backend?: Backend;
  options: TrainOptionsInput & LoraOptions & CoresetTrainOptions;
}): Promise<PreparedFinetune> {
  const method = o.method ?? "full";
  checkMethod(method, o.options.rankAllocation);
  const model = await loadModel(o.modelDir);
  const picked = await applyCoresetOptions(o.options, o.rows, await encodeFor(model, o.rows, o.truncate));
  const { examples, options: cs } = picked;
  const p = o.options;
  const targets = p.targets === undefined ? undefined : adapterList(p.targets);
  let rankPattern: Record<string, number> = {};
  if (method === "lora" && p.rankAllocation === "sensitivity") {
    if (!p.rankBudget) {
      throw new PosttrainError(
        "invalid_option",
        "rankBudget: required by rankAllocation sensitivity",
        "rankBudget",
      );
    }
    const sens = await sensitivityRanks(
      model.config,
      model.weights,
      examples,
      {
        targets: targets ?? defaultTargets(model.config),
      },
      p.rankBudget,
      { seed: p.seed ?? 42, estimator: p.sensitivityEstimator, calibrationRows: p.calibrationRows },
      o.backend ?? "wasm",
    );
    rankPattern = Object.fromEntries(sens.ranks);
  }
  const lora = method === "lora"
    ? setupLora(model.config, model.weights, {
      rankPattern,
      rank: p.rank ?? 8,
      alpha: p.loraAlpha ?? p.rank ?? 8,
      dropout: p.loraDropout ?? 0,
      rslora: p.rslora ?? false,
      targets,
    }, p.seed ?? 42)
    : undefined;
  const lowRank = method === "galore" || method === "qgalore" || method === "dct"
    ? await setupLowRank(method, model.config, model.weights, {
      rank: p.rank ?? 128,
      updateGap: p.updateGap,
      scale: p.scale,
      targets,
    })
    : undefined;
  const weights = lowRank?.weights ?? model.weights;
  const backend = o.backend ?? "wasm";
  // CoLM's zeroth-order directions come from the training seed, as in bench/coreset.ts
  const hooks = cs.coreset === "colm"
    ? colmHooks(model.config, examples, rowSources(picked.rows), {
      ratio: cs.coresetRatio,
      seed: p.seed ?? 42,
    }, backend).hooks
    : {};
  try {
    const trainer = new Trainer(
      model.config,
      weights,
      examples,
      p,
      backend,
      lora?.model ?? lowRank?.model,
      hooks,
    );
    return { model, examples, trainer, lora };
  } catch (e) {
    await hooks.release?.();
    throw e;
  }
}

/**
 * Write what a finished run produced: an HF model dir (full-weight methods, tokenizer files copied
 * from the base) or a PEFT adapter dir (lora, naming `baseModel`). Both writes are atomic.
 */
export async function saveTrained(out: string, p: PreparedFinetune, baseModel: string): Promise<void> {
  const { model, trainer, lora } = p;
  if (lora) return await lora.save(out, model.weights, baseModel);
  // trainer.weights: for Q-GaLore the INT8 store, dequantized here for the written model
  await saveModel(out, model, trainer.weights);
}
