/**
 * @module Chat rows → tokens with assistant-only loss (TRL's `assistant_only_loss`): a conversation
 * (`messages`, ShareGPT `conversations`, or Alpaca as one user/assistant exchange) is rendered with the
 * model dir's chat template (`apply_chat_template` of tokenizer.ts, as HF `apply_chat_template(tokenize=
 * False)`) and tokenized once without added special tokens. Real templates carry no `{% generation %}`
 * markers, so each assistant turn is located by rendering: it starts where the conversation before it,
 * rendered with the generation prompt, ends (that rendering must be a token prefix of the whole) and runs
 * through the turn's first EOS token (the model learns to stop), else to the end of the turn's rendering.
 */
import type { AlpacaRow, ChatRow, Message, ShareGptRow } from "./rows.ts";
import type { ChatTok, Tok } from "./tokenizer.ts";

export type { ChatTok };

/**
 * Whether `tok` can render chat rows (has a chat template and `apply_chat_template`).
 *
 * @example
 * ```ts ignore
 * hasChatTemplate(await loadTokenizer("./Qwen3-0.6B")); // true
 * ```
 */
export function hasChatTemplate(tok: Tok | undefined): tok is ChatTok {
  const t = tok as Partial<ChatTok> | undefined;
  return !!t?.chat_template && typeof t.apply_chat_template === "function";
}

/** ShareGPT `from` → chat role. */
const SHAREGPT_ROLES: Record<string, string> = {
  human: "user",
  user: "user",
  gpt: "assistant",
  assistant: "assistant",
  system: "system",
  tool: "tool",
  observation: "tool",
  function_response: "tool",
};

/**
 * Alpaca as one user/assistant exchange: the instruction, then the input after a blank line.
 *
 * @example
 * ```ts
 * alpacaMessages({ instruction: "Add.", input: "1+1", output: "2" });
 * // [{ role: "user", content: "Add.\n\n1+1" }, { role: "assistant", content: "2" }]
 * ```
 */
export function alpacaMessages(row: AlpacaRow): Message[] {
  const user = row.input ? `${row.instruction}\n\n${row.input}` : row.instruction;
  return [{ role: "user", content: user }, { role: "assistant", content: row.output }];
}

/**
 * Stanford Alpaca's prompt (tatsu-lab/stanford_alpaca `PROMPT_DICT`), for models without a chat template.
 *
 * @example
 * ```ts
 * alpacaPrompt({ instruction: "Add.", output: "2" }).endsWith("### Response:"); // true
 * ```
 */
export function alpacaPrompt(row: AlpacaRow): string {
  return row.input
    ? "Below is an instruction that describes a task, paired with an input that provides further context. " +
      "Write a response that appropriately completes the request.\n\n" +
      `### Instruction:\n${row.instruction}\n\n### Input:\n${row.input}\n\n### Response:`
    : "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
      `### Instruction:\n${row.instruction}\n\n### Response:`;
}

/**
 * The messages of a ShareGPT row (`system` first when given); an unknown `from` is an error naming it.
 *
 * @example
 * ```ts
 * shareGptMessages({ conversations: [{ from: "human", value: "hi" }, { from: "gpt", value: "hello" }] }, "row 1");
 * // [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }]
 * ```
 */
export function shareGptMessages(row: ShareGptRow, where: string): Message[] {
  const out: Message[] = row.system ? [{ role: "system", content: row.system }] : [];
  row.conversations.forEach((t, i) => {
    const role = SHAREGPT_ROLES[t.from];
    if (!role) {
      throw new Error(
        `${where}: "conversations"[${i}].from is ${JSON.stringify(t.from)}, not one of ${
          Object.keys(SHAREGPT_ROLES).join(", ")
        }`,
      );
    }
    out.push({ role, content: t.value });
  });
  return out;
}

/**
 * The conversation and tools of a chat-like row (`messages` as given, ShareGPT converted).
 *
 * @example
 * ```ts
 * rowConversation({ messages: [{ role: "user", content: "hi" }], tools: [] }, "row 1").messages.length; // 1
 * ```
 */
export function rowConversation(
  row: ChatRow | ShareGptRow,
  where: string,
): { messages: Message[]; tools?: Record<string, unknown>[] } {
  const messages = "messages" in row
    ? (row as ChatRow).messages
    : shareGptMessages(row as ShareGptRow, where);
  return { messages, tools: row.tools };
}

/**
 * Render `messages` with the tokenizer's chat template (HF `apply_chat_template(tokenize=False)`).
 *
 * @example
 * ```ts ignore
 * const text = renderChat(tok, [{ role: "user", content: "Hi" }], { addGenerationPrompt: true });
 * ```
 */
export function renderChat(
  tok: ChatTok,
  messages: Message[],
  o: { tools?: Record<string, unknown>[]; addGenerationPrompt?: boolean } = {},
  where = "chat",
): string {
  let out: unknown;
  try {
    out = tok.apply_chat_template(messages, {
      tokenize: false,
      add_generation_prompt: o.addGenerationPrompt ?? false,
      tools: o.tools ?? null,
    });
  } catch (e) {
    throw new Error(`${where}: the chat template failed: ${(e as Error).message}`);
  }
  if (typeof out !== "string") throw new Error(`${where}: the chat template did not render a string`);
  return out;
}

const isPrefix = (p: number[], of: number[]) => p.length <= of.length && p.every((t, i) => of[i] === t);

/**
 * Tokens of a rendered conversation and their unshifted targets: the token itself inside assistant turns
 * (see the module header), −100 elsewhere. Errors name `where`.
 *
 * @example
 * ```ts ignore
 * const { tokens, targets } = chatTokens(tok, [
 *   { role: "user", content: "2+2?" },
 *   { role: "assistant", content: "4" },
 * ], undefined, "row 1");
 * ```
 */
export function chatTokens(
  tok: ChatTok,
  messages: Message[],
  tools: Record<string, unknown>[] | undefined,
  where: string,
): { tokens: number[]; targets: number[] } {
  const encode = (s: string) => tok.encode(s, { add_special_tokens: false });
  const render = (m: Message[], gen: boolean) =>
    encode(renderChat(tok, m, { tools, addGenerationPrompt: gen }, where));
  const tokens = render(messages, false);
  const targets = tokens.map(() => -100);
  const eos = tok.eos_token_id;
  let turns = 0;
  messages.forEach((m, i) => {
    if (m.role !== "assistant") return;
    turns++;
    const before = render(messages.slice(0, i), true);
    if (!isPrefix(before, tokens)) {
      throw new Error(
        `${where}: the chat template renders the conversation before message ${i} (assistant) differently ` +
          "from the whole conversation, so its tokens cannot be located",
      );
    }
    const through = render(messages.slice(0, i + 1), false);
    const turnEnd = isPrefix(through, tokens) ? through.length : undefined;
    let end = turnEnd ?? -1;
    for (let j = before.length; j < (turnEnd ?? tokens.length); j++) {
      if (tokens[j] === eos) {
        end = j + 1;
        break;
      }
    }
    if (end <= before.length) {
      throw new Error(`${where}: cannot find where assistant message ${i} ends in the rendered conversation`);
    }
    for (let j = before.length; j < end; j++) targets[j] = tokens[j];
  });
  if (turns === 0) {
    throw new Error(`${where}: the conversation has no assistant message, so no token carries loss`);
  }
  return { tokens, targets };
}
