/**
 * @module Rows as the library's operations take them (a JSONL path, or rows given inline) and
 * tokenized for a model (its tokenizer is loaded only when a row has text).
 */
import { readJsonl, type Row, validateRow } from "./rows.ts";
import { encodeRows, loadTokenizer, type Tok } from "./tokenize.ts";
import type { Example } from "./example.ts";

/**
 * Rows from a JSONL path, or validated rows given inline (errors name `row N`).
 *
 * @example
 * ```ts
 * const rows = await loadRows([{ question: "Who wrote Hamlet?", answer: " Shakespeare" }]);
 * ```
 */
export async function loadRows(data: string | readonly unknown[]): Promise<Row[]> {
  if (typeof data === "string") return await readJsonl(data);
  return data.map((r, i) => validateRow(r, `row ${i + 1}`));
}

/**
 * Tokenize rows for a model (its tokenizer is loaded when a row has text).
 *
 * @example
 * ```ts ignore
 * const examples = await encodeFor(await loadModel("./my-model"), await loadRows("train.jsonl"));
 * ```
 */
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
