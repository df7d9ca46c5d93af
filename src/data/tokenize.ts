/**
 * Rows → token examples, with the label convention the training graphs consume.
 *
 * Convention (Hugging Face-like inputs, labels ALREADY SHIFTED): a row of n tokens x_0..x_{n-1}, each either a
 * loss token or not, gives
 * - `inputIds` = x_0..x_{n-1} (all n tokens);
 * - `labels[t]` = x_{t+1} if token t+1 is a loss token, else -100; `labels[n-1]` = -100.
 * So `labels[t]` is the target of the logits at position t and no shift happens downstream.
 *
 * Loss tokens: every token of a `text` row; the completion/answer tokens (plus the EOS appended after them)
 * of a prompt/completion or question/answer row; for `input_ids` rows every token, or, with explicit HF
 * `labels` (aligned, unshifted, -100 = ignore), `labels` shifted the same way: `labels[t]` = row.labels[t+1];
 * for chat rows (`messages`, ShareGPT) the assistant turns of the conversation rendered with the model's chat
 * template (see chat.ts); Alpaca rows are one user/assistant exchange when the tokenizer has a chat
 * template, else Stanford Alpaca's prompt with the output as the completion.
 *
 * Prompt/completion rows: prompt and completion are tokenized separately and concatenated; the prompt with
 * the tokenizer's default special tokens (e.g. a LLaMA BOS; see `addBos`), the completion without, then EOS
 * when the tokenizer has one. `text` rows are tokenized like a prompt. `input_ids` rows are used as they are.
 *
 * Rows longer than `maxLength` are an error naming the row, unless `truncate: true`, which keeps the first
 * `maxLength` positions (labels computed before the cut, so the last kept position still predicts the next
 * token of the row when that is a loss token). Either way a long text is cut before it is tokenized: only
 * a prefix that yields the `maxLength + 1` tokens needed is encoded (see {@link encodePrefix}), so an 8 MB
 * row costs what a few KB do.
 * @module
 */
import {
  type AlpacaRow,
  type ChatRow,
  type PromptRow,
  type QaRow,
  type Row,
  rowKind,
  rowOrigin,
  type ShareGptRow,
  validateRow,
} from "./rows.ts";
import { alpacaMessages, alpacaPrompt, chatTokens, hasChatTemplate, rowConversation } from "./chat.ts";
import type { Example } from "./example.ts";
import { loadTokenizer, type Tok } from "./tokenizer.ts";

export type { Example, Tok };
export { loadTokenizer };

/** Options of {@link encodeRows}. */
export interface EncodeOptions {
  /** Needed for text, prompt/completion and question/answer rows; not for pre-tokenized ones. */
  tokenizer?: Tok;
  /** The model's context length: longest allowed row, in tokens. */
  maxLength: number;
  /** Cut rows longer than maxLength instead of throwing. Default false. */
  truncate?: boolean;
  /**
   * true: prepend the tokenizer's BOS to prompts/texts; false: no special tokens at all.
   * Default: whatever the tokenizer adds by itself (`add_special_tokens: true`).
   */
  addBos?: boolean;
  /** Append EOS (a loss token) after completions/answers when the tokenizer has one. Default true. */
  addEos?: boolean;
  /** When given, every token id (and explicit label) must be below it. */
  vocabSize?: number;
  /** Template hook for prompt/completion and question/answer rows. Default: the row's own fields. */
  format?: (row: PromptRow | QaRow) => { prompt: string; completion: string };
}

const KIND_NAME = {
  input_ids: "input_ids",
  messages: "a chat row (messages)",
  conversations: "a ShareGPT row (conversations)",
  instruction: "an Alpaca row (instruction/output)",
  prompt: "prompt/completion",
  question: "question/answer",
  text: "text",
} as const;

/**
 * Tokenizes rows into {@link Example}s (see the module header for the label convention).
 *
 * @example
 * ```ts
 * const [ex] = encodeRows([{ input_ids: [5, 6, 7] }], { maxLength: 1024 });
 * ex.inputIds; // Int32Array [5, 6, 7]
 * ex.labels; // Int32Array [6, 7, -100]
 * const tok = await loadTokenizer("models/gpt2");
 * encodeRows([{ prompt: "2+2=", completion: "4" }], { tokenizer: tok, maxLength: 1024 });
 * // labels are -100 except where the next token is "4" or EOS
 * ```
 */
export function encodeRows(rows: Row[], opts: EncodeOptions): Example[] {
  const { maxLength, truncate = false, vocabSize } = opts;
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new Error(`maxLength must be a positive integer, got ${maxLength}`);
  }
  return rows.map((row, i) => {
    const origin = rowOrigin(row);
    const where = origin ? `${origin.source} line ${origin.line}` : `row ${i + 1}`;
    if (!origin) validateRow(row, where);
    // positions 0..maxLength-1 and the target after the last: maxLength + 1 tokens decide the example
    const { tokens, targets, cut } = rowTokens(row, where, opts, maxLength + 1);
    const n = tokens.length;
    if (n === 0) throw new Error(`${where}: the row has no tokens`);
    for (let j = 0; j < n; j++) {
      checkId(tokens[j], where, vocabSize);
      if (targets[j] !== -100) checkId(targets[j], where, vocabSize);
    }
    const len = Math.min(n, maxLength);
    if (n > maxLength && !truncate) {
      throw new Error(
        `${where}: ${
          cut ? `over ${maxLength}` : n
        } tokens is longer than the model's context (${maxLength} ` +
          "tokens); shorten the row or set truncate: true",
      );
    }
    const inputIds = new Int32Array(len);
    const labels = new Int32Array(len);
    for (let t = 0; t < len; t++) {
      inputIds[t] = tokens[t];
      labels[t] = t + 1 < n ? targets[t + 1] : -100;
    }
    return { inputIds, labels, row: origin?.line ?? i + 1 };
  });
}

function checkId(id: number, where: string, vocabSize?: number): void {
  if (!Number.isInteger(id) || id < 0) {
    throw new Error(`${where}: invalid token id ${id} (the tokenizer may lack an unknown token)`);
  }
  if (vocabSize !== undefined && id >= vocabSize) {
    throw new Error(`${where}: token id ${id} is out of range for the model (vocab size ${vocabSize})`);
  }
}

/**
 * Tokens and unshifted targets (targets[j] = token expected at position j, or -100) of one row, at
 * least the first `need` of them (all when the row has fewer); `cut` when the text was cut first.
 */
function rowTokens(
  row: Row,
  where: string,
  opts: EncodeOptions,
  need: number,
): { tokens: number[]; targets: number[]; cut: boolean } {
  const kind = rowKind(row)!;
  if (kind === "input_ids") {
    const r = row as { input_ids: number[]; labels?: number[] };
    return { tokens: [...r.input_ids], targets: [...(r.labels ?? r.input_ids)], cut: false };
  }
  const tok = opts.tokenizer;
  if (!tok) {
    throw new Error(`${where} is ${KIND_NAME[kind]}: the model dir has no tokenizer.json`);
  }
  if (kind === "text") {
    const { ids, cut } = encodeFirst(tok, (row as { text: string }).text, where, opts.addBos, need);
    return { tokens: ids, targets: ids, cut };
  }
  if (kind === "messages" || kind === "conversations" || (kind === "instruction" && hasChatTemplate(tok))) {
    if (!hasChatTemplate(tok)) {
      throw new Error(
        `${where} is ${KIND_NAME[kind]}: the model dir has no chat template ` +
          "(chat_template in tokenizer_config.json, or chat_template.jinja)",
      );
    }
    const { messages, tools } = kind === "instruction"
      ? { messages: alpacaMessages(row as AlpacaRow), tools: undefined }
      : rowConversation(row as ChatRow | ShareGptRow, where);
    return { ...chatTokens(tok, messages, tools, where), cut: false };
  }
  const pair = row as PromptRow | QaRow | AlpacaRow;
  const { prompt, completion } = kind === "instruction"
    ? { prompt: alpacaPrompt(pair as AlpacaRow), completion: (pair as AlpacaRow).output }
    : opts.format
    ? opts.format(pair as PromptRow | QaRow)
    : kind === "prompt"
    ? { prompt: (pair as PromptRow).prompt, completion: (pair as PromptRow).completion }
    : { prompt: (pair as QaRow).question, completion: (pair as QaRow).answer };
  const p = encodeFirst(tok, prompt, where, opts.addBos, need);
  let c: number[] = [], cut = p.cut || p.ids.length >= need;
  if (!cut) {
    const e = encodePrefix(
      (t) => tok.encode(t, { add_special_tokens: false }),
      completion,
      need - p.ids.length,
    );
    c = e.ids;
    cut = e.cut;
    if (!cut && opts.addEos !== false && typeof tok.eos_token_id === "number") c.push(tok.eos_token_id);
  }
  return { tokens: [...p.ids, ...c], targets: [...p.ids.map(() => -100), ...c], cut };
}

/** Encodes the first segment of a row (a prompt or a text) with the BOS policy. */
function encodeFirst(
  tok: Tok,
  text: string,
  where: string,
  addBos: boolean | undefined,
  need: number,
): { ids: number[]; cut: boolean } {
  if (addBos === undefined) return encodePrefix((t) => tok.encode(t), text, need);
  const r = encodePrefix((t) => tok.encode(t, { add_special_tokens: false }), text, need);
  if (!addBos) return r;
  if (typeof tok.bos_token_id !== "number") {
    throw new Error(`${where}: addBos is set but the tokenizer has no BOS`);
  }
  return { ids: [tok.bos_token_id, ...r.ids], cut: r.cut };
}

/** Tokens past the ones a caller needs, so a cut that changes how the text's end tokenizes never matters. */
const PREFIX_MARGIN = 16;

/**
 * The tokens of `text`, or of a prefix of it when that already gives `need` of them: prefixes of
 * 8 characters per needed token, then 4× longer, each cut just before a whitespace that follows a
 * non-space (where byte-level and SentencePiece-style pre-tokenizers split, so the prefix tokenizes
 * like the text's start). `cut` says a prefix was used: more tokens follow.
 *
 * @example
 * ```ts ignore
 * encodePrefix((t) => tok.encode(t), "word ".repeat(2_000_000), 257); // { ids: [≥ 257 ids], cut: true }
 * ```
 */
export function encodePrefix(
  encode: (text: string) => number[],
  text: string,
  need: number,
): { ids: number[]; cut: boolean } {
  for (let chars = 8 * (need + PREFIX_MARGIN); chars < text.length; chars *= 4) {
    const end = splitPoint(text, chars);
    if (end < 0) break;
    const ids = encode(text.slice(0, end));
    if (ids.length >= need + PREFIX_MARGIN) return { ids, cut: true };
  }
  return { ids: encode(text), cut: false };
}

/** The first index ≥ `from` holding a whitespace after a non-whitespace (within 4 KiB), else -1. */
function splitPoint(text: string, from: number): number {
  const ws = /\s/;
  for (let i = Math.max(1, from), end = Math.min(text.length, from + 4096); i < end; i++) {
    if (ws.test(text[i]) && !ws.test(text[i - 1])) return i;
  }
  return -1;
}
