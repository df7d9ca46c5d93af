/**
 * @module A model dir's tokenizer, offline: `tokenizer.json` through `@huggingface/tokenizers` and the chat
 * template through `@huggingface/jinja` — the two packages transformers.js's `PreTrainedTokenizer` itself
 * wraps, wrapped the same way (special tokens from `tokenizer_config.json`, templates rendered with
 * `messages`, `add_generation_prompt`, `tools` and the special-token strings), so ids and rendered text are
 * transformers.js's. Without loading transformers.js, which pulls in onnxruntime: +55 MB of resident
 * memory against +2 MB here.
 */
import { resolve } from "../io/path.ts";
import { readText, storage } from "../io/storage.ts";
import { Tokenizer } from "npm:@huggingface/tokenizers@0.2.0";
import { Template } from "npm:@huggingface/jinja@0.5.11";

/** The tokenizer this module's users need (transformers.js's `PreTrainedTokenizer` fits too). */
export interface Tok {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  readonly bos_token_id?: number | null;
  readonly eos_token_id?: number | null;
}

/** A message of a conversation. */
export type ChatMessage = { role: string; content: string; [k: string]: unknown };

/** A tokenizer with a chat template. */
export interface ChatTok extends Tok {
  chat_template?: string | Record<string, string> | null;
  apply_chat_template(
    messages: ChatMessage[],
    options: { tokenize: false; add_generation_prompt?: boolean; tools?: Record<string, unknown>[] | null },
  ): unknown;
}

/** The special-token attributes a template sees (transformers.js `SPECIAL_TOKEN_ATTRIBUTES`). */
const SPECIAL = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

/** A token string from a config entry: a string, or an `AddedToken` object's content. */
function tokenOf(config: Record<string, unknown>, key: string): string | undefined {
  const v = config[key];
  if (!v) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "object" && (v as { content?: unknown }).content !== undefined) {
    return String((v as { content: unknown }).content);
  }
  throw new Error(`tokenizer_config.json: unknown token ${JSON.stringify(v)} for ${key}`);
}

/** `tokenizer.json` + `tokenizer_config.json` (+ chat template) as a {@link ChatTok}. */
class HfTokenizer implements ChatTok {
  readonly #tok: Tokenizer;
  readonly #special: Record<string, string> = {};
  readonly #compiled = new Map<string, Template>();
  readonly bos_token_id: number | null;
  readonly eos_token_id: number | null;
  chat_template: string | Record<string, string> | null;

  constructor(json: Record<string, unknown>, readonly config: Record<string, unknown>) {
    this.#tok = new Tokenizer(json, config);
    for (const k of SPECIAL) {
      const t = tokenOf(config, k);
      if (t) this.#special[k] = t;
    }
    const id = (t?: string) => (t === undefined ? null : this.#tok.token_to_id(t) ?? null);
    this.bos_token_id = id(this.#special.bos_token);
    this.eos_token_id = id(this.#special.eos_token);
    const ct = config.chat_template as unknown;
    // templates stored as [{name, template}] become one dict, as HF and transformers.js do
    this.chat_template = Array.isArray(ct)
      ? Object.fromEntries(ct.map((t: { name: string; template: string }) => [t.name, t.template]))
      : (ct as string | null | undefined) ?? null;
  }

  encode(text: string, o: { add_special_tokens?: boolean } = {}): number[] {
    return this.#tok.encode(text, { add_special_tokens: o.add_special_tokens ?? true }).ids;
  }

  decode(ids: number[], o: { skip_special_tokens?: boolean } = {}): string {
    return ids.length ? this.#tok.decode(ids, { skip_special_tokens: o.skip_special_tokens ?? false }) : "";
  }

  apply_chat_template(
    messages: ChatMessage[],
    o: { tokenize: false; add_generation_prompt?: boolean; tools?: Record<string, unknown>[] | null },
  ): string {
    let t = this.chat_template;
    if (t && typeof t === "object") t = (o.tools ? t.tool_use : undefined) ?? t.default;
    if (typeof t !== "string") throw new Error("the tokenizer has no chat template");
    let compiled = this.#compiled.get(t);
    if (!compiled) this.#compiled.set(t, compiled = new Template(t));
    return compiled.render({
      messages,
      add_generation_prompt: o.add_generation_prompt ?? false,
      tools: o.tools ?? null,
      documents: null,
      ...this.#special,
    });
  }
}

/**
 * Loads `tokenizer.json` (+ `tokenizer_config.json`, `chat_template.jinja`) from a local directory.
 *
 * @example
 * ```ts
 * const tok = await loadTokenizer("models/default");
 * tok.decode(tok.encode("hello", { add_special_tokens: false })); // "hello"
 * ```
 */
export async function loadTokenizer(dir: string): Promise<Tok> {
  const abs = resolve(dir);
  const read = async (name: string): Promise<string | undefined> => {
    try {
      return await readText(`${abs}/${name}`);
    } catch {
      return undefined;
    }
  };
  const json = await read("tokenizer.json");
  if (json === undefined) {
    const isDir = (await storage().stat(abs).catch(() => undefined))?.isDirectory ?? false;
    throw new Error(isDir ? `${dir} has no tokenizer.json` : `tokenizer directory not found: ${dir}`);
  }
  const cfgText = await read("tokenizer_config.json");
  const config = cfgText === undefined ? {} : JSON.parse(cfgText) as Record<string, unknown>;
  // HF reads chat_template.jinja beside tokenizer_config.json and prefers it
  const jinja = await read("chat_template.jinja");
  if (jinja !== undefined) config.chat_template = jinja;
  return new HfTokenizer(JSON.parse(json), config);
}
