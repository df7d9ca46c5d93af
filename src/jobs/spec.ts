/**
 * @module Job and generation request schemas (zod), shared by the HTTP API, the CLI and the
 * library. HTTP bodies spell the CLI's options in snake_case (`batch_size`, `grad_accum`, …); the
 * schemas here are built from the same camelCase schemas the CLI parses its flags with
 * (`TrainOptionsSchema`, …), so a default or a range is defined once.
 */
import { z } from "zod";
import { TrainOptionsSchema } from "../train/options.ts";
import { BACKENDS } from "../runtime/session.ts";
import { type Row, RowSchema, validateRow } from "../data/rows.ts";
import { ApiError, dotted } from "./errors.ts";
import { UNLEARN_METHODS, UnlearnOptionsSchema } from "../unlearn/unlearn.ts";
import { CORESET_METHODS, CoresetOptionsSchema } from "../coreset/select.ts";
import { CoresetTrainFlags } from "../coreset/train_hooks.ts";

export { CORESET_METHODS, UNLEARN_METHODS };

/** Fine-tuning methods of the contract. */
export const FINETUNE_METHODS = ["full", "lora", "galore", "qgalore", "dct"] as const;
/** Fine-tuning methods whose engine is built. */
export const BUILT_FINETUNE_METHODS: readonly string[] = ["full", "lora", "galore", "qgalore", "dct"];
/** LoRA rank allocations of the contract. */
export const RANK_ALLOCATIONS = ["uniform", "sensitivity"] as const;
/** Rank allocations whose engine is built. */
export const BUILT_RANK_ALLOCATIONS: readonly string[] = ["uniform", "sensitivity"];
/** Job types of the contract. */
export const JOB_TYPES = ["finetune", "unlearn", "eval", "coreset"] as const;
/** Job types whose engine is built. */
export const BUILT_JOB_TYPES: readonly string[] = ["finetune", "unlearn", "eval", "coreset"];
/** Export formats. */
export const EXPORT_FORMATS = ["transformersjs"] as const;
/** Most rows one request may carry (the body-size limit usually binds first). */
export const MAX_ROWS = 100_000;

/** `fooBar` → `foo_bar`, at the type level. */
export type SnakeCase<S extends string> = S extends `${infer C}${infer R}`
  ? `${C extends Lowercase<C> ? C : `_${Lowercase<C>}`}${SnakeCase<R>}`
  : S;
type SnakeShape<T> = { [K in keyof T as K extends string ? SnakeCase<K> : never]: T[K] };

/** `fooBar` → `foo_bar`. */
export function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/** `foo_bar` → `fooBar`. */
export function camel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function snakeShape<T extends Record<string, z.ZodType>>(shape: T): SnakeShape<T> {
  return Object.fromEntries(Object.entries(shape).map(([k, v]) => [snake(k), v])) as SnakeShape<T>;
}

/** Object with snake_case keys turned into camelCase (one level deep). */
export function camelKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [camel(k), v]));
}

/** Decoding options (camelCase; HF `generate` names). */
export const GenerateOptionsSchema = z.object({
  maxNewTokens: z.number().int().positive().max(4096).default(32).describe("tokens to generate at most"),
  temperature: z.number().nonnegative().max(100).default(0).describe("0 = greedy"),
  topK: z.number().int().nonnegative().max(1_000_000).default(0).describe(
    "sample from the k most likely tokens (0 = all)",
  ),
  topP: z.number().gt(0).max(1).default(1).describe("nucleus sampling mass (1 = off)"),
  seed: z.number().int().nonnegative().default(0).describe("sampling seed"),
});

/** LoRA options of `train` (camelCase; the CLI's `--rank`, `--lora-alpha`, …). */
export const LoraOptionsSchema = z.object({
  rank: z.number().int().positive().max(4096).default(8).describe("LoRA rank (PEFT r)"),
  loraAlpha: z.number().positive().optional().describe("LoRA α (default: the rank, so scale 1)"),
  loraDropout: z.number().min(0).lt(1).default(0).describe("dropout on the LoRA input"),
  rslora: z.boolean().default(false).describe("scale α/√r (rsLoRA)"),
  targets: z.string().optional().describe(
    "comma-separated module suffixes (default PEFT's per model type: q_proj,v_proj; GPT-2 c_attn; Phi-3 qkv_proj)",
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

/** Evaluation options (camelCase). */
export const EvalOptionsSchema = z.object({
  batchSize: z.number().int().positive().max(4096).default(8).describe("rows per forward pass"),
});

const model = z.string().min(1).max(512).describe(
  "a registered model name ('default' is the built-in model) or a model dir under the server's models root",
);
const backend = z.enum(BACKENDS).optional().describe(
  "onnxruntime backend: wasm | webgpu | node (default: the server's, normally wasm)",
);
const truncate = z.boolean().default(false).describe(
  "cut rows longer than the model's context instead of failing",
);
const rows = (what: string) =>
  z.array(RowSchema).min(1).max(MAX_ROWS).describe(
    `${what}: data rows, each {"text"} | {"prompt","completion"} | {"question","answer"} | ` +
      `{"input_ids","labels"?}`,
  );
const adapter = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: "must be a job id" }).optional()
  .describe(
    "id of a succeeded fine-tune or unlearn job of this model: a LoRA job's adapter is merged in; " +
      "a full-weight fine-tune's or an unlearn job's weights replace the base",
  );
const train = snakeShape(TrainOptionsSchema.shape);

/** `POST /v1/jobs` with `type: "finetune"`. */
export const FinetuneJobSchema = z.strictObject({
  type: z.literal("finetune"),
  model,
  method: z.enum(FINETUNE_METHODS).default("full").describe(
    `fine-tuning method (built: ${BUILT_FINETUNE_METHODS.join(", ")})`,
  ),
  data: rows("training rows"),
  ...train,
  ...snakeShape(LoraOptionsSchema.shape),
  targets: z.union([z.string(), z.array(z.string().min(1)).min(1)]).optional().describe(
    "LoRA target module suffixes: an array, or a comma-separated string (default q_proj,v_proj; GPT-2 c_attn; Phi-3 qkv_proj)",
  ),
  data_indices: z.array(z.number().int().nonnegative()).min(1).max(MAX_ROWS).optional().describe(
    "train only on these rows of data: 0-based indices, in this order, no repeats (e.g. the indices of a " +
      "coreset job's selection.json)",
  ),
  coreset: CoresetTrainFlags.shape.coreset,
  coreset_ratio: CoresetTrainFlags.shape.coresetRatio,
  backend,
  truncate,
}).meta({
  id: "FinetuneJob",
  description: "Fine-tune a model; the artifacts are an HF model dir (full) or a PEFT adapter dir (lora)",
});

/** `POST /v1/jobs` with `type: "eval"`. */
export const EvalJobSchema = z.strictObject({
  type: z.literal("eval"),
  model,
  adapter,
  data: rows("evaluation rows"),
  ...snakeShape(EvalOptionsSchema.shape),
  backend,
  truncate,
}).meta({ id: "EvalJob", description: "Mean token NLL and perplexity of a model on rows" });

const { method: _unlearnMethod, ...unlearnOptions } = UnlearnOptionsSchema.shape;

/** `POST /v1/jobs` with `type: "unlearn"`: the `unlearn` CLI's options in snake_case. */
export const UnlearnJobSchema = z.strictObject({
  type: z.literal("unlearn"),
  model,
  adapter,
  method: z.enum(UNLEARN_METHODS).describe(
    "unlearning method: kfade (K-FADE), wagle-graddiff, wagle-npo (WAGLE-masked), ga, graddiff, npo",
  ),
  forget: rows("rows to forget"),
  retain: rows("rows to keep (required by every method but ga)").optional(),
  ...snakeShape(unlearnOptions),
  backend,
  truncate,
}).meta({
  id: "UnlearnJob",
  description:
    "Unlearn the forget rows, keeping the retain rows; the artifacts are the unlearned HF model dir " +
    "and, for kfade, update.safetensors (θ_after − θ_before, for the CLI's apply-update)",
});

/** `POST /v1/jobs` with `type: "coreset"`: the `coreset` CLI's options in snake_case. */
export const CoresetJobSchema = z.strictObject({
  type: z.literal("coreset"),
  model,
  adapter,
  method: z.enum(CORESET_METHODS).describe("coreset selection method: cld (CLD) or colm (CoLM)"),
  data: rows("candidate rows (an optional string `source` field groups them)"),
  val: rows("validation rows (required by cld)").optional(),
  k: z.number().int().positive().max(MAX_ROWS).describe("rows to select"),
  ...snakeShape(CoresetOptionsSchema.shape),
  keep_sources: z.union([z.string(), z.array(z.string().min(1)).min(1)]).optional().describe(
    "colm: sources kept whole: an array, or a comma-separated string",
  ),
  backend,
  truncate,
}).meta({
  id: "CoresetJob",
  description:
    'Select k of the data rows; the result is {k, rows}, the artifact selection.json {"indices", "scores"}',
});

/** Any job request. */
export const JobRequestSchema = z.discriminatedUnion("type", [
  FinetuneJobSchema,
  EvalJobSchema,
  UnlearnJobSchema,
  CoresetJobSchema,
]).meta({ id: "JobRequest", description: "A job: its type, the model, the data and the options" });

/** `POST /v1/generate`. */
export const GenerateRequestSchema = z.strictObject({
  model,
  adapter,
  prompt: z.string().min(1).max(100_000).optional().describe("text to continue (give this or messages)"),
  messages: z.array(
    z.looseObject({
      role: z.string().min(1).describe("system, user, assistant, tool, …"),
      content: z.string().max(100_000).describe("the message text"),
    }),
  ).min(1).max(1000).optional()
    .describe(
      "a conversation, rendered with the model's chat template plus the generation prompt (or prompt)",
    ),
  tools: z.array(z.looseObject({})).max(100).optional().describe(
    "tools (function schemas) for the chat template",
  ),
  ...snakeShape(GenerateOptionsSchema.shape),
  backend,
}).superRefine((r, ctx) => {
  if ((r.prompt === undefined) === (r.messages === undefined)) {
    ctx.addIssue({ code: "custom", path: ["prompt"], message: "give exactly one of prompt and messages" });
  }
}).meta({ id: "GenerateRequest", description: "Continue a text prompt, or answer a conversation" });

/** A validated fine-tune job request. */
export type FinetuneJob = z.infer<typeof FinetuneJobSchema>;
/** A validated eval job request. */
export type EvalJob = z.infer<typeof EvalJobSchema>;
/** A validated unlearn job request. */
export type UnlearnJob = z.infer<typeof UnlearnJobSchema>;
/** A validated coreset job request. */
export type CoresetJob = z.infer<typeof CoresetJobSchema>;
/** Any validated job request. */
export type JobRequest = z.infer<typeof JobRequestSchema>;
/** The types of jobs. */
export type JobType = typeof JOB_TYPES[number];

/**
 * Validate a job request body; errors are 422 {@link ApiError}s naming the field.
 *
 * @example
 * ```ts
 * parseJobRequest({ type: "eval", model: "default", data: [{ text: "hi" }] }).batch_size; // 8
 * ```
 */
export function parseJobRequest(body: unknown): JobRequest {
  const r = JobRequestSchema.safeParse(body);
  if (r.success) return r.data;
  const d = describeIssue(r.error.issues[0], body);
  throw new ApiError(422, "invalid_request", d.message, d.path || undefined);
}

/**
 * Why a valid request cannot run yet (its engine is not built), or undefined.
 *
 * @example
 * ```ts
 * notBuilt({ type: "finetune", method: "galore" }); // { path: "method", message: "method galore: not built yet …" }
 * ```
 */
export function notBuilt(
  req: { type: string; method?: string; rank_allocation?: string },
): { path: string; message: string } | undefined {
  if (!BUILT_JOB_TYPES.includes(req.type)) {
    return {
      path: "type",
      message: `job type ${req.type}: not built yet (available: ${BUILT_JOB_TYPES.join(", ")})`,
    };
  }
  if (req.type === "finetune" && req.method && !BUILT_FINETUNE_METHODS.includes(req.method)) {
    return {
      path: "method",
      message: `method ${req.method}: not built yet (available: ${BUILT_FINETUNE_METHODS.join(", ")})`,
    };
  }
  if (req.rank_allocation && !BUILT_RANK_ALLOCATIONS.includes(req.rank_allocation)) {
    return {
      path: "rank_allocation",
      message: `rank_allocation ${req.rank_allocation}: not built yet (available: ${
        BUILT_RANK_ALLOCATIONS.join(", ")
      })`,
    };
  }
  return undefined;
}

const ROW_FIELDS = new Set(["data", "forget", "retain", "val"]);

/**
 * One readable message and a dotted path for a zod issue of a request body; row-union issues are
 * re-checked with the row validator so the message names the row's bad field.
 */
export function describeIssue(issue: z.core.$ZodIssue, body: unknown): { path: string; message: string } {
  let path = [...issue.path];
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    path = [...path, issue.keys[0]];
    message = `unknown field${issue.keys.length > 1 ? `s ${issue.keys.join(", ")}` : ""}`;
  } else if (issue.code === "invalid_union" && path.length === 2 && ROW_FIELDS.has(String(path[0]))) {
    const value = (body as Record<string, unknown[]>)?.[String(path[0])]?.[Number(path[1])];
    try {
      validateRow(value, "row");
    } catch (e) {
      const m = (e as Error).message.replace(/^row: /, "");
      const field = m.match(/^"([^"]+)"/);
      if (field) path = [...path, field[1]];
      message = field ? m.slice(field[0].length).trim() : m;
    }
  } else if (issue.code === "invalid_union" && path.length === 1 && path[0] === "type") {
    message = `must be one of ${JOB_TYPES.join(", ")}`;
  }
  const where = dotted(path);
  return { path: where, message: where ? `${where}: ${message}` : message };
}

/** The rows a request carries under `field`, typed. */
export function rowsOf(req: Record<string, unknown>, field = "data"): Row[] {
  return req[field] as Row[];
}
