/**
 * @module Job and generation request schemas (zod) of the HTTP API: the envelope (type, model,
 * data, the HTTP-only fields) around each operation's options. HTTP bodies spell the CLI's options
 * in snake_case (`batch_size`, `grad_accum`, …); the option schemas live with their operations
 * (`TrainOptionsSchema` and `MethodOptionsSchema` in src/train, …) and are the ones the CLI
 * parses its flags with and the library reads, so a default or a range is defined once.
 */
import { z } from "npm:zod@4.6.7";
import { TrainOptionsSchema } from "../train/options.ts";
import { BACKENDS } from "../runtime/backend.ts";
import { type Row, RowSchema, validateRow } from "../data/rows.ts";
import { dotted, PosttrainError } from "../errors.ts";
import { UNLEARN_METHODS, UnlearnOptionsSchema } from "../unlearn/unlearn.ts";
import { CORESET_METHODS, CoresetOptionsSchema } from "../coreset/select.ts";
import { CoresetTrainFlags } from "../coreset/train_hooks.ts";
import { FINETUNE_METHODS, MethodOptionsSchema } from "../train/finetune_options.ts";
import { GenerateOptionsSchema } from "../models/generate_options.ts";
import { EvalOptionsSchema } from "../eval/loss.ts";

export { CORESET_METHODS, UNLEARN_METHODS };

/** Job types of the contract. */
export const JOB_TYPES = ["finetune", "unlearn", "eval", "coreset"] as const;
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

const model = z.string().min(1).max(512).describe(
  "a registered model name ('default' is the built-in model) or a model dir under the server's models root",
);
const backend = z.enum(BACKENDS).optional().describe(
  "engine: wasm | webgpu | node (onnxruntime) or lean (our executor, in one planned arena); default: the server's, normally wasm",
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
  method: z.enum(FINETUNE_METHODS).default("full").describe("fine-tuning method"),
  data: rows("training rows"),
  ...train,
  ...snakeShape(MethodOptionsSchema.shape),
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

/**
 * The library's fine-tune options (camelCase) of a fine-tune job: what `prepareFinetune` resolves.
 *
 * @example
 * ```ts ignore
 * finetuneOptionsOf(parseJobRequest(body) as FinetuneJob).batchSize;
 * ```
 */
export function finetuneOptionsOf(req: FinetuneJob): Record<string, unknown> {
  return camelKeys(req as unknown as Record<string, unknown>);
}

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
 * Validate a job request body; errors are 422 {@link PosttrainError}s naming the field.
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
  throw new PosttrainError("invalid_request", d.message, d.path || undefined);
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
