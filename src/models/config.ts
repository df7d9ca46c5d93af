/**
 * @module HF `config.json` → one normalized decoder config for GPT-2 and the LLaMA family
 * (Llama 3.x, SmolLM 1–3, Qwen2, Qwen3, Mistral, Gemma 3 text, Phi-3 / Phi-4-mini). Field names and
 * defaults follow transformers' `*Config` classes; the LLaMA-family parsing is in `llama_config.ts`.
 */
import { z } from "npm:zod@4.6.7";
import type { DecoderConfig } from "./decoder_config.ts";
import { llamaFromHf, llamaToHf } from "./llama_config.ts";

export type { DecoderConfig };

const pos = z.number().int().positive();
const Gpt2Schema = z.looseObject({
  model_type: z.literal("gpt2").describe("HF model type"),
  vocab_size: pos.describe("vocabulary size"),
  n_embd: pos.describe("model width"),
  n_layer: pos.describe("number of blocks"),
  n_head: pos.describe("attention heads"),
  n_inner: pos.nullish().describe("MLP width (default 4·n_embd)"),
  n_positions: pos.describe("context length"),
  layer_norm_epsilon: z.number().positive().default(1e-5).describe("LayerNorm ε"),
  activation_function: z.enum(["gelu_new", "gelu_pytorch_tanh", "gelu"]).default("gelu_new")
    .describe("MLP activation (computed with the tanh approximation)"),
  tie_word_embeddings: z.boolean().default(true).describe("LM head shares the token embedding"),
});

/** Parse an HF config object; errors name the offending field (and refuse keys we would not honour). */
export function parseConfig(json: unknown, source = "config.json"): DecoderConfig {
  const type = (json as { model_type?: unknown })?.model_type;
  if (type !== "gpt2") return llamaFromHf(json, source);
  const r = Gpt2Schema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`${source}: ${i.path.join(".") || "model_type"}: ${i.message}`);
  }
  const c = r.data;
  return {
    arch: "gpt2",
    modelType: "gpt2",
    vocabSize: c.vocab_size,
    hidden: c.n_embd,
    layers: c.n_layer,
    heads: c.n_head,
    kvHeads: c.n_head,
    headDim: c.n_embd / c.n_head,
    ffn: c.n_inner ?? 4 * c.n_embd,
    maxPositions: c.n_positions,
    normEps: c.layer_norm_epsilon,
    ropeTheta: 0,
    tieEmbeddings: c.tie_word_embeddings,
    qkvBias: true,
    oBias: true,
    mlpBias: true,
    prefix: "",
    rope: { type: "default", theta: 0, dim: 0 },
    window: Array(c.n_layer).fill(null),
    useRope: Array(c.n_layer).fill(false),
    qkNorm: false,
    normOffset: 0,
    sandwichNorms: false,
    embedScale: 1,
    attnScalar: c.n_embd / c.n_head,
    act: "gelu_tanh",
    fused: false,
  };
}

/** An HF config.json object for a normalized config (what written model dirs carry). */
export function toHfConfig(c: DecoderConfig): Record<string, unknown> {
  if (c.arch !== "gpt2") return llamaToHf(c);
  return {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    vocab_size: c.vocabSize,
    n_embd: c.hidden,
    n_layer: c.layers,
    n_head: c.heads,
    n_inner: c.ffn,
    n_positions: c.maxPositions,
    n_ctx: c.maxPositions,
    layer_norm_epsilon: c.normEps,
    activation_function: "gelu_new",
    tie_word_embeddings: c.tieEmbeddings,
  };
}
