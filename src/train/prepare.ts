/**
 * @module Fine-tune setup shared by the library's `finetune` (`src/api.ts`, which the CLI's `train`
 * calls) and fine-tune jobs: the options resolved once (finetune_options.ts), the tokenized rows
 * (with a row selection), the trainer for a method (full, LoRA, GaLore / Q-GaLore / DCT; CoLM
 * per-step coresets) and writing what a finished run produced.
 */
import { type LoadedModel, loadModelFor, saveModel } from "../models/load.ts";
import type { Row } from "../data/rows.ts";
import type { Example } from "../data/example.ts";
import { encodeFor } from "../data/load.ts";
import { Trainer } from "./trainer.ts";
import { colmHooks, type CoresetTrainOptions, resolveIndices, rowSources } from "../coreset/train_hooks.ts";
import { type Backend, DEFAULT_BACKEND } from "../runtime/backend.ts";
import { defaultTargets, loadQuantizedBase, type LoraSetup, setupLora } from "../lora/setup.ts";
import { sensitivityRanks } from "../lora/sensitivity.ts";
import { setupLowRank } from "./lowrank_setup.ts";
import { PosttrainError } from "../errors.ts";
import type { TrainOptionsInput } from "./options.ts";
import {
  type FinetuneMethod,
  type LoraOptions,
  type ResolvedFinetune,
  resolveFinetune,
} from "./finetune_options.ts";

export type { FinetuneMethod, LoraOptions };

/** What {@link prepareFinetune} sets up. */
export interface PreparedFinetune {
  /** The options the run uses, defaults applied. */
  options: ResolvedFinetune;
  model: LoadedModel;
  examples: Example[];
  trainer: Trainer;
  /** Set for method "lora": the adapter being trained. */
  lora?: LoraSetup;
}

/**
 * The rows and examples a row selection keeps: `dataIndices` picks rows (in its order) of `rows`
 * (errors name `dataIndices`).
 *
 * @example
 * ```ts ignore
 * const { rows, examples } = await selectRows([2, 0], rows, examples);
 * ```
 */
export async function selectRows(
  dataIndices: string | readonly number[] | undefined,
  rows: Row[],
  examples: Example[],
): Promise<{ rows: Row[]; examples: Example[] }> {
  if (dataIndices === undefined) return { rows, examples };
  let idx: number[];
  try {
    idx = await resolveIndices(dataIndices, examples.length);
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
  return { rows: idx.map((i) => rows[i]), examples: kept };
}

/**
 * A model, its tokenized rows and a trainer over them (shared by `finetune` and the job runner).
 *
 * @example
 * ```ts ignore
 * const p = await prepareFinetune({ modelDir, rows, method: "lora", options: { rank: 16, steps: 20 } });
 * await p.trainer.run();
 * ```
 */
export async function prepareFinetune(o: {
  modelDir: string;
  rows: Row[];
  method?: FinetuneMethod;
  truncate?: boolean;
  backend?: Backend;
  options: TrainOptionsInput & LoraOptions & CoresetTrainOptions;
}): Promise<PreparedFinetune> {
  const options = resolveFinetune(o.method, o.options);
  const { train, coreset: cs } = options;
  const backend = o.backend ?? DEFAULT_BACKEND;
  // LoRA over a quantized base: quantized while it loads, unless sensitivity needs the float base first
  const quantizeOnLoad = options.lora?.baseBits && options.lora.rankAllocation === "uniform";
  const { model, base } = quantizeOnLoad
    ? await loadQuantizedBase(o.modelDir, backend, options.lora!.baseBits!)
    : { model: await loadModelFor(o.modelDir, backend), base: undefined };
  const picked = await selectRows(cs.dataIndices, o.rows, await encodeFor(model, o.rows, o.truncate));
  const { examples } = picked;
  let lora: LoraSetup | undefined;
  if (options.lora) {
    const { config, rankAllocation, rankBudget, sensitivityEstimator, calibrationRows, baseBits } =
      options.lora;
    let rankPattern: Record<string, number> = {};
    if (rankAllocation === "sensitivity") {
      const sens = await sensitivityRanks(
        model.config,
        model.weights,
        examples,
        { targets: config.targets ?? defaultTargets(model.config) },
        rankBudget!,
        { seed: train.seed, estimator: sensitivityEstimator, calibrationRows },
        backend,
      );
      rankPattern = Object.fromEntries(sens.ranks);
    }
    lora = setupLora(model.config, model.weights, { ...config, rankPattern }, train.seed, base ?? baseBits);
  }
  const lowRank = options.lowRank && options.method !== "full" && options.method !== "lora"
    ? setupLowRank(options.method, model.config, model.weights, options.lowRank)
    : undefined;
  const weights = lora?.weights ?? lowRank?.weights ?? model.weights;
  // CoLM's zeroth-order directions come from the training seed, as in bench/coreset.ts
  const hooks = cs.coreset === "colm"
    ? colmHooks(model.config, examples, rowSources(picked.rows), {
      ratio: cs.coresetRatio,
      seed: train.seed,
    }, backend).hooks
    : {};
  try {
    const trainer = new Trainer(
      model.config,
      weights,
      examples,
      train,
      backend,
      lora?.model ?? lowRank?.model,
      hooks,
    );
    return { options, model, examples, trainer, lora };
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
  // trainer.weights: the adapter as trained (over a quantized base it lives beside the codes, not in model.weights)
  if (lora) return await lora.save(out, trainer.weights, baseModel);
  // trainer.weights: for Q-GaLore the INT8 store, dequantized here for the written model
  await saveModel(out, model, trainer.weights);
}
