/**
 * @module Model, data and trainer setup shared by the library functions (`src/api.ts`), the CLI
 * and the job runner: model references (`default` → the built-in model), LoRA adapters merged
 * at load, rows from JSONL or inline, tokenization, the method check, the trainer for a method
 * (full or LoRA; with a row selection or CoLM per-step coresets) and writing what a finished run produced.
 */
import { type LoadedModel, loadModel, saveModel } from "../models/load.ts";
import { readJsonl, type Row, validateRow } from "../data/rows.ts";
import { encodeRows, type Example, loadTokenizer, type Tok } from "../data/tokenize.ts";
import { Trainer } from "../train/trainer.ts";
import type { z } from "zod";
import {
  colmHooks,
  type CoresetTrainOptions,
  CoresetTrainOptionsSchema,
  resolveIndices,
  rowSources,
} from "../coreset/train_hooks.ts";
import type { TrainOptionsInput } from "../train/options.ts";
import type { Backend } from "../runtime/session.ts";
import { defaultTargets, type LoraSetup, setupLora } from "../lora/setup.ts";
import { sensitivityRanks } from "../lora/sensitivity.ts";
import { setupLowRank } from "../optim/methods.ts";
import { loadAdapter } from "../lora/peft.ts";
import { mergeAdapters } from "../lora/merge.ts";
import { ApiError } from "./errors.ts";
import { BUILT_FINETUNE_METHODS, BUILT_RANK_ALLOCATIONS, type FINETUNE_METHODS } from "./spec.ts";

/** A fine-tuning method of the contract. */
export type FinetuneMethod = typeof FINETUNE_METHODS[number];

/**
 * The built-in model's directory (`models/default` at the package root), or undefined when the
 * module is not loaded from the file system.
 */
export function defaultModelDir(): string | undefined {
  const u = new URL("../../models/default", import.meta.url);
  return u.protocol === "file:" ? decodeURIComponent(u.pathname) : undefined;
}

/**
 * A model reference as a directory: `"default"` is the built-in model, anything else a path.
 *
 * @example
 * ```ts
 * resolveModelDir("./my-model"); // "./my-model"
 * ```
 */
export function resolveModelDir(model: string): string {
  if (model !== "default") return model;
  const dir = defaultModelDir();
  if (!dir) {
    throw new ApiError(
      404,
      "model_not_found",
      "model default: not available outside a local checkout",
      "model",
    );
  }
  return dir;
}

/** Adapter dirs from a comma-separated string or a list. */
export function adapterList(adapters?: string | readonly string[]): string[] {
  const list = typeof adapters === "string" ? adapters.split(",") : [...(adapters ?? [])];
  return list.map((a) => a.trim()).filter(Boolean);
}

/**
 * Load a model ("default" or a dir) and merge LoRA adapters (PEFT dirs) into its weights.
 *
 * @example
 * ```ts ignore
 * const m = await loadModelWithAdapters("default", ["./adapter"]);
 * ```
 */
export async function loadModelWithAdapters(
  model: string,
  adapters?: string | readonly string[],
): Promise<LoadedModel> {
  const m = await loadModel(resolveModelDir(model));
  const dirs = adapterList(adapters);
  if (dirs.length) mergeAdapters(m.config, m.weights, await Promise.all(dirs.map(loadAdapter)));
  return m;
}

/** Rows from a JSONL path, or validated rows given inline (errors name `row N`). */
export async function loadRows(data: string | readonly unknown[]): Promise<Row[]> {
  if (typeof data === "string") return await readJsonl(data);
  return data.map((r, i) => validateRow(r, `row ${i + 1}`));
}

/** Tokenize rows for a model (its tokenizer is loaded when a row has text). */
export async function encodeFor(
  model: { config: { maxPositions: number; vocabSize: number }; dir: string; hasTokenizer: boolean },
  rows: Row[],
  truncate = false,
  tokenizer?: Tok,
): Promise<Example[]> {
  if (rows.length === 0) throw new Error("no rows");
  const needsTok = rows.some((r) => !("input_ids" in r));
  const tok = tokenizer ?? (needsTok && model.hasTokenizer ? await loadTokenizer(model.dir) : undefined);
  return encodeRows(rows, {
    tokenizer: tok,
    maxLength: model.config.maxPositions,
    truncate,
    vocabSize: model.config.vocabSize,
  });
}

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
  /** Module-name suffixes to adapt (default q_proj,v_proj; GPT-2 c_attn; Phi-3 qkv_proj). */
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

/** Throw the 422 of a method (or rank allocation) whose engine is not built yet. */
export function checkMethod(method: string, rankAllocation = "uniform"): void {
  if (!BUILT_FINETUNE_METHODS.includes(method)) {
    throw new ApiError(
      422,
      "not_built",
      `method ${method}: not built yet (available: ${BUILT_FINETUNE_METHODS.join(", ")})`,
      "method",
    );
  }
  if (method === "lora" && !BUILT_RANK_ALLOCATIONS.includes(rankAllocation)) {
    throw new ApiError(422, "not_built", `rankAllocation ${rankAllocation}: not built yet`, "rankAllocation");
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
    throw new ApiError(422, "invalid_option", `${path}: ${r.error.issues[0].message}`, path);
  }
  const options = r.data;
  if (options.dataIndices === undefined) return { options, rows, examples };
  let idx: number[];
  try {
    idx = await resolveIndices(options.dataIndices, examples.length);
  } catch (e) {
    throw new ApiError(422, "invalid_option", (e as Error).message, "dataIndices");
  }
  const kept = idx.map((i) => examples[i]);
  if (!kept.some((e) => e.labels.some((l) => l !== -100))) {
    throw new ApiError(
      422,
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
      throw new ApiError(
        422,
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
