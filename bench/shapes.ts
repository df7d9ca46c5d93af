/** Benchmark shapes, identical to ../shared/peers/torch_train_step.py's SHAPES. */
import { type DecoderConfig, parseConfig } from "../src/models/config.ts";

/** name → [arch, layers, d, heads, kvHeads, ffn, vocab, seq, batch]. */
export const SHAPES = {
  tiny: ["gpt2", 4, 256, 4, 4, 1024, 4096, 128, 8],
  gpt2: ["gpt2", 12, 768, 12, 12, 3072, 50257, 128, 4],
  smollm: ["llama", 30, 576, 9, 3, 1536, 49152, 128, 4],
} as const;
export type ShapeName = keyof typeof SHAPES;

/** The built-in default model's config (models/default/config.json) at B8×T128. */
export function defaultShape(): { config: DecoderConfig; seq: number; batch: number } {
  const raw = JSON.parse(Deno.readTextFileSync(new URL("../models/default/config.json", import.meta.url)));
  return { config: parseConfig(raw), seq: 128, batch: 8 };
}

/** The model config and batch geometry of a shape (tied head, as the peer). */
export function shapeConfig(name: ShapeName): { config: DecoderConfig; seq: number; batch: number } {
  const [arch, L, d, h, kvh, ffn, V, T, B] = SHAPES[name];
  const config = arch === "gpt2"
    ? parseConfig({
      model_type: "gpt2",
      vocab_size: V,
      n_embd: d,
      n_layer: L,
      n_head: h,
      n_inner: ffn,
      n_positions: T,
    })
    : parseConfig({
      model_type: "llama",
      vocab_size: V,
      hidden_size: d,
      intermediate_size: ffn,
      num_hidden_layers: L,
      num_attention_heads: h,
      num_key_value_heads: kvh,
      max_position_embeddings: T,
      tie_word_embeddings: true,
    });
  return { config, seq: T, batch: B };
}

/** `batch` rows of `seq` random tokens (a fixed LCG, as the PyTorch peer's fixed seed), next-token labels. */
export function randomTokenRows(
  vocabSize: number,
  batch: number,
  seq: number,
): { inputIds: Int32Array; labels: Int32Array; row: number }[] {
  let s = 12345;
  const rand = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  return Array.from({ length: batch }, (_, row) => {
    const ids = Int32Array.from({ length: seq + 1 }, () => Math.floor(rand() * vocabSize));
    return { inputIds: ids.slice(0, seq), labels: ids.slice(1), row };
  });
}
