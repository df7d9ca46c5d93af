/**
 * Training/eval rows: one JSON object per line (JSONL).
 *
 * A row is one of
 * - `{"text": s}`: loss on every token;
 * - `{"prompt": s, "completion": s}` or `{"question": s, "answer": s}`: loss on the completion/answer only;
 * - `{"input_ids": [int…]}` or `{"input_ids": [...], "labels": [int|-100…]}`: pre-tokenized, no tokenizer
 *   needed; `labels` follow the Hugging Face convention (aligned with `input_ids`, unshifted, -100 = ignore);
 * - chat: `{"messages": [{"role", "content"}…], "tools"?: [...]}` (OpenAI / TRL conversational), rendered
 *   with the model dir's chat template, loss on the assistant turns only;
 * - ShareGPT: `{"conversations": [{"from", "value"}…], "system"?, "tools"?}` (from human/user, gpt/assistant,
 *   system, tool/observation/function_response), converted to messages;
 * - Alpaca: `{"instruction": s, "input"?: s, "output": s}`, loss on the output.
 *
 * Extra fields (e.g. "source", "id") are allowed and kept. When a row has the keys of several kinds, the first
 * of input_ids, messages, conversations, instruction/output, prompt/completion, question/answer, text wins (so a
 * pre-tokenized row may keep its "text").
 * Rows parsed by {@link parseJsonl} remember their source and 1-based line number ({@link rowOrigin}), which
 * later errors (too long, unknown token, no tokenizer) use to name the row.
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { isNotFound, readText } from "../io/storage.ts";

const str = (what: string): z.ZodString => z.string({ error: "must be a string" }).describe(what);
const tokenId: z.ZodNumber = z.int({ error: "must be a non-negative integer" }).min(0, {
  error: "must be a non-negative integer",
});
const labelId: z.ZodType<number> = z.int({ error: "must be an integer ≥ 0 or -100" }).refine(
  (v) => v >= 0 || v === -100,
  {
    error: "must be an integer ≥ 0 or -100",
  },
);

/** Extra fields (e.g. "source", "id") ride along untouched. */
type Extra = { [key: string]: unknown };
/** `{"text": s}`. */
export type TextRow = { text: string } & Extra;
/** `{"prompt": s, "completion": s}`. */
export type PromptRow = { prompt: string; completion: string } & Extra;
/** `{"question": s, "answer": s}`. */
export type QaRow = { question: string; answer: string } & Extra;
/** `{"input_ids": [...], "labels"?: [...]}`. */
export type TokensRow = { input_ids: number[]; labels?: number[] } & Extra;
/** One chat message: a role (system, user, assistant, tool, …) and its text; extra keys (tool_calls, name) kept. */
export type Message = { role: string; content: string } & Extra;
/** `{"messages": [...], "tools"?: [...]}`. */
export type ChatRow = { messages: Message[]; tools?: Record<string, unknown>[] } & Extra;
/** `{"conversations": [{"from", "value"}...], "system"?, "tools"?}` (ShareGPT). */
export type ShareGptRow = {
  conversations: ({ from: string; value: string } & Extra)[];
  system?: string;
  tools?: Record<string, unknown>[];
} & Extra;
/** `{"instruction": s, "input"?: s, "output": s}` (Alpaca). */
export type AlpacaRow = { instruction: string; input?: string; output: string } & Extra;
/** Any data row. */
export type Row = TokensRow | ChatRow | ShareGptRow | AlpacaRow | PromptRow | QaRow | TextRow;

/** `{"text": s}`: plain text, loss on every token. */
export const TextRowSchema: z.ZodType<TextRow> = z.looseObject({
  text: str("Plain text; the loss covers every token."),
}).describe("Plain-text row");

/** `{"prompt": s, "completion": s}`: loss on the completion tokens only. */
export const PromptRowSchema: z.ZodType<PromptRow> = z.looseObject({
  prompt: str("Context the model is conditioned on; no loss on these tokens."),
  completion: str("Continuation the model learns to produce; the loss covers these tokens (and EOS)."),
}).describe("Prompt/completion row");

/** `{"question": s, "answer": s}`: same as prompt/completion. */
export const QaRowSchema: z.ZodType<QaRow> = z.looseObject({
  question: str("Question, used as the prompt; no loss on these tokens."),
  answer: str("Answer, used as the completion; the loss covers these tokens (and EOS)."),
}).describe("Question/answer row");

/** `{"input_ids": [...], "labels"?: [...]}`: pre-tokenized. */
export const TokensRowSchema: z.ZodType<TokensRow> = z.looseObject({
  input_ids: z.array(tokenId, { error: "must be an array of non-negative integers" })
    .min(1, { error: "must not be empty" })
    .describe("Token ids of the whole row (non-negative integers)."),
  labels: z.array(labelId, { error: "must be an array of integers ≥ 0 or -100" })
    .optional()
    .describe(
      "Optional per-token targets aligned with input_ids (Hugging Face convention, unshifted): " +
        "labels[i] is the token expected at position i, -100 = no loss. Default: loss on every token.",
    ),
}).superRefine((row, ctx) => {
  if (row.labels && row.labels.length !== row.input_ids.length) {
    ctx.addIssue({
      code: "custom",
      path: ["labels"],
      message: `has length ${row.labels.length} but "input_ids" has length ${row.input_ids.length}; ` +
        "they must be equal",
    });
  }
}).describe("Pre-tokenized row");

const tools = z.array(z.looseObject({}), { error: "must be an array of objects (tool schemas)" })
  .optional().describe(
    "Tools (function schemas) the chat template renders, as in apply_chat_template(tools=…).",
  );

/** `{"messages": [{"role", "content"}…], "tools"?}`: rendered with the chat template, loss on assistant turns. */
export const ChatRowSchema: z.ZodType<ChatRow> = z.looseObject({
  messages: z.array(
    z.looseObject({
      role: z.string({ error: "must be a string" }).min(1, { error: "must not be empty" })
        .describe("system, user, assistant, tool, …"),
      content: str("The message text."),
    }, { error: "must be an object with role and content" }),
    { error: "must be an array of {role, content} objects" },
  ).min(1, { error: "must not be empty" }).describe("The conversation, in order."),
  tools,
}).describe("Chat row (messages)");

/** `{"conversations": [{"from", "value"}…]}`: ShareGPT, converted to messages. */
export const ShareGptRowSchema: z.ZodType<ShareGptRow> = z.looseObject({
  conversations: z.array(
    z.looseObject({
      from: str("human/user, gpt/assistant, system, tool/observation/function_response."),
      value: str("The turn's text."),
    }, { error: "must be an object with from and value" }),
    { error: "must be an array of {from, value} objects" },
  ).min(1, { error: "must not be empty" }).describe("The conversation, in order."),
  system: str("System prompt put before the conversation.").optional(),
  tools,
}).describe("ShareGPT row");

/** `{"instruction", "input"?, "output"}`: Alpaca, loss on the output. */
export const AlpacaRowSchema: z.ZodType<AlpacaRow> = z.looseObject({
  instruction: str("The task."),
  input: str("Optional context for the task.").optional(),
  output: str("The response the model learns; the loss covers these tokens."),
}).describe("Alpaca row");

/** Any data row. */
export const RowSchema: z.ZodType<Row> = z.union([
  TokensRowSchema,
  ChatRowSchema,
  ShareGptRowSchema,
  AlpacaRowSchema,
  PromptRowSchema,
  QaRowSchema,
  TextRowSchema,
])
  .describe("One training/eval row (a JSONL line)");

/** Which kind of row this is. */
export type RowKind =
  | "input_ids"
  | "messages"
  | "conversations"
  | "instruction"
  | "prompt"
  | "question"
  | "text";

const NEEDS = "a row needs one of text, prompt+completion, question+answer, input_ids, messages, " +
  "conversations (ShareGPT), instruction+output (Alpaca)";

/** The kind of a row by its keys (see the module header for precedence), or undefined. */
export function rowKind(row: Record<string, unknown>): RowKind | undefined {
  if ("input_ids" in row || "labels" in row) return "input_ids";
  if ("messages" in row) return "messages";
  if ("conversations" in row) return "conversations";
  if ("instruction" in row || "output" in row) return "instruction";
  if ("prompt" in row || "completion" in row) return "prompt";
  if ("question" in row || "answer" in row) return "question";
  if ("text" in row) return "text";
  return undefined;
}

const SCHEMAS = {
  input_ids: TokensRowSchema,
  messages: ChatRowSchema,
  conversations: ShareGptRowSchema,
  instruction: AlpacaRowSchema,
  prompt: PromptRowSchema,
  question: QaRowSchema,
  text: TextRowSchema,
} as const;

const origins = new WeakMap<object, { source: string; line: number }>();

/**
 * Where a row came from, if it was parsed by {@link parseJsonl}.
 *
 * @example
 * ```ts
 * const [row] = parseJsonl('\n{"text": "hi"}', "a.jsonl");
 * rowOrigin(row); // { source: "a.jsonl", line: 2 }
 * ```
 */
export function rowOrigin(row: object): { source: string; line: number } | undefined {
  return origins.get(row);
}

function fieldPath(path: PropertyKey[]): string {
  if (path.length === 0) return "row";
  const [head, ...rest] = path;
  return `"${String(head)}"` + rest.map((p) => `[${String(p)}]`).join("");
}

/**
 * Validates one parsed JSON value as a row; throws `Error("<where>: <problem>")`.
 *
 * @example
 * ```ts
 * validateRow({ prompt: "2+2=", completion: "4" }, "row 1"); // ok
 * validateRow({ prompt: "2+2=" }, "row 1"); // throws 'row 1: "completion" must be a string'
 * ```
 */
export function validateRow(value: unknown, where: string): Row {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`${where}: a row must be a JSON object`);
  }
  const kind = rowKind(value as Record<string, unknown>);
  if (!kind) throw new Error(`${where}: ${NEEDS}`);
  const res = SCHEMAS[kind].safeParse(value);
  if (!res.success) {
    const issue = res.error.issues[0];
    throw new Error(`${where}: ${fieldPath(issue.path)} ${issue.message}`);
  }
  return res.data as Row;
}

/**
 * Parses JSONL text into rows. Empty (whitespace-only) lines are skipped; any other bad line throws an error
 * naming `source` and the 1-based line number.
 *
 * @example
 * ```ts
 * const rows = parseJsonl('{"text": "hello"}\n{"prompt": "Q: 1+1?", "completion": " 2"}\n', "train.jsonl");
 * rows.length; // 2
 * parseJsonl('{"prompt": "x", "completion": 3}', "data.jsonl");
 * // throws: data.jsonl line 1: "completion" must be a string
 * ```
 */
export function parseJsonl(text: string, source = "data"): Row[] {
  const rows: Row[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const where = `${source} line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`${where}: invalid JSON`);
    }
    const row = validateRow(value, where);
    origins.set(row, { source, line: i + 1 });
    rows.push(row);
  }
  return rows;
}

/**
 * Reads and parses a JSONL file (see {@link parseJsonl}); errors name the path.
 *
 * @example
 * ```ts
 * const rows = await readJsonl("data/train.jsonl");
 * ```
 */
export async function readJsonl(path: string): Promise<Row[]> {
  let text: string;
  try {
    text = await readText(path);
  } catch (e) {
    if (isNotFound(e)) throw new Error(`data file not found: ${path}`);
    throw new Error(`cannot read data file ${path}: ${(e as Error).message}`);
  }
  return parseJsonl(text, path);
}
