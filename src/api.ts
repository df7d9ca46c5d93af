/**
 * @module The library's operations as typed functions — `finetune`, `evaluate`, `generate`,
 * `exportModel` — with the same defaults and errors as the CLI (which calls them) and the HTTP
 * job runner (which shares their setup, `src/train/prepare.ts`). A model is a directory in HF
 * layout or `"default"` (the built-in model); data is a JSONL path or an array of rows.
 */
import type { LoadedModel } from "./models/load.ts";
import { Generator } from "./models/generate.ts";
import { ModelRunner } from "./models/runner.ts";
import { EvalOptionsSchema, evaluateLoss } from "./eval/loss.ts";
import { loadTokenizer, type Tok } from "./data/tokenize.ts";
import { hasChatTemplate, renderChat } from "./data/chat.ts";
import type { Message } from "./data/rows.ts";
import type { StepInfo } from "./train/trainer.ts";
import { loadCheckpoint, saveCheckpoint } from "./train/checkpoint.ts";
import type { TrainOptionsInput } from "./train/options.ts";
import type { z } from "npm:zod@4.6.7";
import type { CoresetTrainOptions, CoresetTrainOptionsSchema } from "./coreset/train_hooks.ts";
import { exportTransformersJs } from "./models/export_transformersjs.ts";
import { peakRssMb } from "./util/rss.ts";
import { type Backend, DEFAULT_BACKEND } from "./runtime/backend.ts";
import { PosttrainError } from "./errors.ts";
import { prepareFinetune, saveTrained } from "./train/prepare.ts";
import { GenerateOptionsSchema } from "./models/generate_options.ts";
import { parseOptions, pickShape } from "./util/parse.ts";
import type { FinetuneMethod, LoraOptions } from "./train/finetune_options.ts";
import { encodeFor, loadRows } from "./data/load.ts";
import { adapterList, loadModelWithAdapters } from "./lora/with_adapters.ts";
import { resolveModelDir } from "./models/reference.ts";

export type { FinetuneMethod, LoraOptions } from "./train/finetune_options.ts";
export { loadModelWithAdapters } from "./lora/with_adapters.ts";
export { defaultModelDir, resolveModelDir } from "./models/reference.ts";
export type { CoresetTrainOptions, StepInfo };

/** Training hyper-parameters (all optional; defaults as `TrainOptionsSchema`). */
export interface TrainHyperparameters {
  /** Optimizer steps (default 100). */
  steps?: number;
  /** Peak learning rate (default 5e-5). */
  lr?: number;
  /** Rows per micro-batch (default 8). */
  batchSize?: number;
  /** Micro-batches per optimizer step (default 1). */
  gradAccum?: number;
  /** Linear warm-up steps (default 0). */
  warmup?: number;
  /** Schedule after warm-up (default linear). */
  schedule?: "constant" | "linear" | "cosine";
  /** Decoupled weight decay (default 0). */
  weightDecay?: number;
  /** Optimizer: "adamw" (default) or "sophia" (Sophia-G, diagonal Hessian). */
  optimizer?: "adamw" | "sophia";
  /** β₁ (default 0.9 AdamW, 0.965 Sophia). */
  beta1?: number;
  /** β₂ (default 0.999 AdamW, 0.99 Sophia). */
  beta2?: number;
  /** Sophia ρ (default 0.04). */
  rho?: number;
  /** Sophia: refresh the Hessian estimate every k steps (default 10). */
  hessInterval?: number;
  /** Adam ε (default 1e-8). */
  eps?: number;
  /** Global gradient-norm clip, 0 = off (default 1). */
  maxGradNorm?: number;
  /** AdamW moments in 32 bits (default) or 8 (block-wise quantized, 4× less state). */
  momentBits?: 32 | 8;
  /** Data-order seed (default 42). */
  seed?: number;
  /** Report every N steps (default 1). */
  logEvery?: number;
}
// The explicit interface (JSR: no inferred types in the public API) must list exactly the
// schema's options: a field added to TrainOptionsSchema fails this check until it is added above.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _sameShape: Same<Required<TrainHyperparameters>, Required<TrainOptionsInput>> = true;

// …and the coreset options exactly the schema's (CoresetTrainOptionsSchema, described field by field)
const _sameCoreset: Same<keyof CoresetTrainOptions, keyof z.input<typeof CoresetTrainOptionsSchema>> = true;

/** Options of {@link finetune}. */
export interface FinetuneOptions extends TrainHyperparameters, LoraOptions, CoresetTrainOptions {
  /** HF model dir, or "default". */
  model: string;
  /** JSONL path or rows. */
  data: string | readonly unknown[];
  /** Output dir (an HF model dir for full-weight methods, a PEFT adapter dir for lora); required unless `untilStep` stops early. */
  out?: string;
  /** Default "full". */
  method?: FinetuneMethod;
  /** Default "wasm". */
  backend?: Backend;
  /** Cut rows longer than the context instead of failing. */
  truncate?: boolean;
  /** Where resumable checkpoints go. */
  checkpointDir?: string;
  /** Checkpoint every N steps (needs `checkpointDir`). */
  saveEvery?: number;
  /** Continue from `checkpointDir`. */
  resume?: boolean;
  /** Stop after this step with a checkpoint (no model dir is written). */
  untilStep?: number;
  /** Called every `logEvery` steps. */
  onStep?: (s: StepInfo) => void;
  /** Progress messages (the CLI sends them to stderr). */
  log?: (msg: string) => void;
  /** Stop between steps. */
  signal?: AbortSignal;
}

/** What {@link finetune} reports (the CLI prints it in snake_case). */
export interface FinetuneResult {
  lossStart: number;
  lossEnd: number;
  steps: number;
  tokensPerS: number;
  peakRssMb: number;
  optimizerStateBytes: number;
}

/**
 * Fine-tune a model on rows and write the result (an HF model dir for `full`).
 *
 * @example
 * ```ts ignore
 * const r = await finetune({
 *   model: "default",
 *   data: [{ question: "Who wrote Hamlet?", answer: " Shakespeare" }],
 *   out: "./tuned",
 *   steps: 20,
 *   lr: 1e-3,
 *   batchSize: 1,
 * });
 * console.log(r.lossStart, "→", r.lossEnd);
 * // on the rows a coreset selected, each step on CoLM's half of the drawn batch of 16
 * await finetune({ model: "default", data: "train.jsonl", dataIndices: "S.json", coreset: "colm", batchSize: 16, out: "./t2" });
 * ```
 */
export async function finetune(o: FinetuneOptions): Promise<FinetuneResult> {
  if ((o.saveEvery || o.resume || o.untilStep) && !o.checkpointDir) {
    throw new PosttrainError(
      "invalid_option",
      "checkpointDir: required by saveEvery, resume and untilStep",
      "checkpointDir",
    );
  }
  const log = o.log ?? (() => {});
  const prepared = await prepareFinetune({
    modelDir: resolveModelDir(o.model),
    rows: await loadRows(o.data),
    method: o.method,
    truncate: o.truncate,
    backend: o.backend,
    options: o,
  });
  const { examples, trainer, options: { method } } = prepared;
  const steps = trainer.opts.steps;
  const stop = Math.min(steps, o.untilStep ?? steps);
  if (stop === steps && !o.out) {
    throw new PosttrainError("invalid_option", "out: required to write the fine-tuned model", "out");
  }
  try {
    if (o.resume) log(`resumed at step ${(await loadCheckpoint(o.checkpointDir!, trainer)).step}`);
    log(
      `train: ${examples.length} rows, ${steps} steps, method ${method}, backend ${
        o.backend ?? DEFAULT_BACKEND
      }`,
    );
    let last: StepInfo | undefined;
    while (trainer.state.step < stop && !o.signal?.aborted) {
      const until = o.saveEvery ? Math.min(stop, trainer.state.step + o.saveEvery) : stop;
      const infos = await trainer.run(o.onStep, until, o.signal);
      last = infos.at(-1) ?? last;
      if (o.checkpointDir) await saveCheckpoint(o.checkpointDir, trainer);
    }
    const losses = trainer.state.losses;
    const result = {
      lossStart: losses[0],
      lossEnd: losses.at(-1)!,
      steps: trainer.state.step,
      tokensPerS: last ? Math.round(last.tokensPerS) : 0,
      peakRssMb: Math.round(peakRssMb()),
      optimizerStateBytes: trainer.optimizer.stateBytes,
    };
    if (trainer.state.step >= steps) await saveTrained(o.out!, prepared, o.model);
    return result;
  } finally {
    await trainer.release();
  }
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** HF model dir, or "default". */
  model: string;
  /** JSONL path or rows. */
  data: string | readonly unknown[];
  /** LoRA adapter dir(s) merged into the weights (a list, or comma-separated). */
  adapter?: string | readonly string[];
  /** Rows per forward pass (default 8). */
  batchSize?: number;
  backend?: Backend;
  truncate?: boolean;
  /** Progress messages. */
  log?: (msg: string) => void;
}

/** Mean token NLL, its perplexity and the number of target tokens. */
export interface EvaluateResult {
  loss: number;
  ppl: number;
  tokens: number;
}

/**
 * Mean token NLL and perplexity of a model on rows.
 *
 * @example
 * ```ts ignore
 * const { loss, ppl } = await evaluate({ model: "./tuned", data: "heldout.jsonl" });
 * ```
 */
export async function evaluate(o: EvaluateOptions): Promise<EvaluateResult> {
  const model = await loadModelWithAdapters(o.model, o.adapter);
  const examples = await encodeFor(model, await loadRows(o.data), o.truncate);
  const { batchSize } = parseOptions(EvalOptionsSchema, { batchSize: o.batchSize });
  const backend = o.backend ?? DEFAULT_BACKEND;
  o.log?.(`eval: ${examples.length} rows, backend ${backend}`);
  const runner = new ModelRunner(model.config, backend);
  try {
    return await evaluateLoss(runner, model.weights, examples, batchSize);
  } finally {
    await runner.release();
  }
}

/** Options of {@link generate}. */
export interface GenerateTextOptions {
  /** HF model dir (with tokenizer.json), or "default". */
  model: string;
  /** LoRA adapter dir(s) merged into the weights. */
  adapter?: string | readonly string[];
  /** Text to continue (give this or `messages`). */
  prompt?: string;
  /** A conversation to answer: rendered with the model's chat template and its generation prompt. */
  messages?: readonly Message[];
  /** Tools (function schemas) the chat template renders with `messages`. */
  tools?: readonly Record<string, unknown>[];
  /** Default 32. */
  maxNewTokens?: number;
  /** 0 = greedy (default). */
  temperature?: number;
  /** 0 = off. */
  topK?: number;
  /** 1 = off. */
  topP?: number;
  seed?: number;
  backend?: Backend;
}

/**
 * The prompt's token ids: `prompt` encoded as is, or `messages` rendered with the chat template and its
 * generation prompt (no special tokens added: the template writes them, as HF `apply_chat_template`).
 *
 * @example
 * ```ts ignore
 * promptIds(tok, { messages: [{ role: "user", content: "Hi" }] }); // …<|im_start|>assistant\n
 * ```
 */
export function promptIds(tok: Tok, o: Pick<GenerateTextOptions, "prompt" | "messages" | "tools">): number[] {
  if ((o.prompt === undefined) === (o.messages === undefined)) {
    throw new PosttrainError("invalid_request", "prompt: give exactly one of prompt and messages", "prompt");
  }
  if (o.prompt !== undefined) return tok.encode(o.prompt);
  if (!hasChatTemplate(tok)) {
    throw new PosttrainError(
      "no_chat_template",
      "messages: the model dir has no chat template (chat_template in tokenizer_config.json, or chat_template.jinja)",
      "messages",
    );
  }
  const text = renderChat(tok, [...o.messages!], {
    tools: o.tools && [...o.tools],
    addGenerationPrompt: true,
  }, "messages");
  return tok.encode(text, { add_special_tokens: false });
}

/** Continue `prompt` (or answer `messages`) with a loaded model, its tokenizer and a generator (the HTTP route caches them). */
export async function generateWith(
  model: LoadedModel,
  tok: Tok,
  gen: Generator,
  o: Omit<GenerateTextOptions, "model" | "adapter" | "backend">,
): Promise<{ text: string }> {
  const ids = await gen.generate(model.weights, promptIds(tok, o), {
    ...parseOptions(GenerateOptionsSchema, pickShape(o, GenerateOptionsSchema.shape)),
    eosId: tok.eos_token_id ?? undefined,
  });
  return { text: tok.decode(ids, { skip_special_tokens: true }) };
}

/**
 * Continue a text prompt, or answer a conversation with the model's chat template (greedy by default;
 * temperature, top-k, top-p sampling).
 *
 * @example
 * ```ts ignore
 * const { text } = await generate({ model: "default", prompt: "Once upon a time", maxNewTokens: 20 });
 * const reply = await generate({ model: "./qwen3-tuned", messages: [{ role: "user", content: "Hi!" }] });
 * ```
 */
export async function generate(o: GenerateTextOptions): Promise<{ text: string }> {
  const model = await loadModelWithAdapters(o.model, o.adapter);
  if (!model.hasTokenizer) {
    throw new PosttrainError(
      "no_tokenizer",
      `model ${o.model}: the model dir has no tokenizer.json`,
      "model",
    );
  }
  const tok = await loadTokenizer(model.dir);
  const gen = new Generator(model.config, o.backend ?? DEFAULT_BACKEND);
  try {
    return await generateWith(model, tok, gen, o);
  } finally {
    await gen.release();
  }
}

/** Options of {@link exportModel}. */
export interface ExportModelOptions {
  /** HF model dir, or "default". */
  model: string;
  /** Output dir (created, or its files replaced). */
  out: string;
  /** LoRA adapter dir(s) merged into the exported weights. */
  adapter?: string | readonly string[];
  /** Default "transformersjs". */
  format?: "transformersjs";
}

/**
 * Write a model in a format another runtime loads (`transformersjs`: config, tokenizer and
 * `onnx/model.onnx` with a KV cache). Returns the written files, relative to `out`.
 *
 * @example
 * ```ts ignore
 * const { files } = await exportModel({ model: "./tuned", out: "./tuned-web" });
 * ```
 */
export async function exportModel(o: ExportModelOptions): Promise<{ files: string[] }> {
  const weights = adapterList(o.adapter).length
    ? (await loadModelWithAdapters(o.model, o.adapter)).weights
    : undefined;
  return await exportTransformersJs(resolveModelDir(o.model), o.out, { weights });
}

void _sameShape, _sameCoreset;
