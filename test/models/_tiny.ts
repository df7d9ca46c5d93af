/** Tiny model configs and random batches for tests. */
import { parseConfig } from "../../src/models/config.ts";
import { makeBatch } from "../../src/data/batch.ts";
import type { Batch } from "../../src/data/batch.ts";
import type { Example } from "../../src/data/example.ts";
import { rng } from "../_util.ts";

export const tinyGpt2 = () =>
  parseConfig({ model_type: "gpt2", vocab_size: 61, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 32 });
export const tinyLlama = (extra: Record<string, unknown> = {}) =>
  parseConfig({
    model_type: "llama",
    vocab_size: 53,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    rope_theta: 10000,
    ...extra,
  });

/** A ragged batch of random rows (lengths `lens`) with some -100 labels. */
export function randomBatch(vocab: number, lens: number[], seed = 1): Batch {
  const r = rng(seed);
  return makeBatch(lens.map((n, row) => {
    const ids = Int32Array.from({ length: n }, () => Math.floor(r() * vocab));
    const labels = Int32Array.from({ length: n }, (_, t) => (t === n - 1 || t === 0 ? -100 : ids[t + 1]));
    return { inputIds: ids, labels, row };
  }));
}

/** `n` rows of `len` random tokens with next-token labels (the last position ignored), drawn from `r`. */
export function randomExamples(vocab: number, n: number, len: number, r: () => number): Example[] {
  return Array.from({ length: n }, (_, row) => {
    const ids = Int32Array.from({ length: len }, () => Math.floor(r() * vocab));
    return { inputIds: ids, labels: Int32Array.from(ids, (_, t) => (t < len - 1 ? ids[t + 1] : -100)), row };
  });
}
