/**
 * @module HF `config.json` → one normalized decoder config for GPT-2 and the LLaMA family
 * (LLaMA, SmolLM, Qwen2, Mistral). Field names and defaults follow transformers'
 * `GPT2Config` / `LlamaConfig` / `Qwen2Config` / `MistralConfig`.
 */
import { z } from "npm:zod@4.6.7";

/** The normalized shape of a decoder-only model. */
export interface DecoderConfig {
  arch: "gpt2" | "llama";
  /** The HF `model_type` this came from. */
  modelType: string;
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffn: number;
  maxPositions: number;
  normEps: number;
  ropeTheta: number;
  tieEmbeddings: boolean;
  /** Bias on q/k/v projections (GPT-2, Qwen2, LLaMA `attention_bias`). */
  qkvBias: boolean;
  /** Bias on the attention output projection (GPT-2, LLaMA `attention_bias`). */
  oBias: boolean;
  /** Bias on MLP projections (GPT-2, LLaMA `mlp_bias`). */
  mlpBias: boolean;
  /** GPT-2 checkpoints store keys with or without "transformer."; LLaMA uses "model.". */
  prefix: string;
}

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
const LlamaSchema = z.looseObject({
  model_type: z.enum(["llama", "qwen2", "mistral", "smollm", "smollm3"]).describe("HF model type"),
  vocab_size: pos.describe("vocabulary size"),
  hidden_size: pos.describe("model width"),
  intermediate_size: pos.describe("MLP width"),
  num_hidden_layers: pos.describe("number of blocks"),
  num_attention_heads: pos.describe("attention heads"),
  num_key_value_heads: pos.nullish().describe("key/value heads (GQA); default = attention heads"),
  head_dim: pos.nullish().describe("head width; default hidden/heads"),
  max_position_embeddings: pos.default(2048).describe("context length"),
  rms_norm_eps: z.number().positive().default(1e-6).describe("RMSNorm ε"),
  rope_theta: z.number().positive().optional().describe("RoPE base θ (pre-v5 configs)"),
  rope_parameters: z.looseObject({
    rope_theta: z.number().positive().optional(),
    rope_type: z.string().optional(),
  })
    .nullish().describe("RoPE parameters (transformers v5)"),
  rope_scaling: z.looseObject({ rope_type: z.string().optional(), type: z.string().optional() }).nullish()
    .describe("RoPE scaling; only the default (none) is supported"),
  tie_word_embeddings: z.boolean().default(false).describe("LM head shares the token embedding"),
  attention_bias: z.boolean().default(false).describe("bias on q/k/v/o"),
  mlp_bias: z.boolean().default(false).describe("bias on gate/up/down"),
  hidden_act: z.literal("silu").default("silu").describe("MLP activation"),
});

/** Parse an HF config object; errors name the offending field. */
export function parseConfig(json: unknown, source = "config.json"): DecoderConfig {
  const type = (json as { model_type?: unknown })?.model_type;
  const fail = (e: z.ZodError): never => {
    const i = e.issues[0];
    throw new Error(`${source}: ${i.path.join(".") || "model_type"}: ${i.message}`);
  };
  if (type === "gpt2") {
    const r = Gpt2Schema.safeParse(json);
    if (!r.success) return fail(r.error);
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
    };
  }
  const r = LlamaSchema.safeParse(json);
  if (!r.success) {
    if (typeof type !== "string" || !["llama", "qwen2", "mistral", "smollm", "smollm3"].includes(type)) {
      throw new Error(
        `${source}: model_type: expected gpt2, llama, qwen2 or mistral, got ${JSON.stringify(type)}`,
      );
    }
    return fail(r.error);
  }
  const c = r.data;
  const scaling = c.rope_scaling?.rope_type ?? c.rope_scaling?.type ?? c.rope_parameters?.rope_type;
  if (scaling && scaling !== "default") {
    throw new Error(`${source}: rope scaling "${scaling}" is not supported`);
  }
  const heads = c.num_attention_heads, kvHeads = c.num_key_value_heads ?? heads;
  if (heads % kvHeads) throw new Error(`${source}: num_key_value_heads must divide num_attention_heads`);
  return {
    arch: "llama",
    modelType: c.model_type,
    vocabSize: c.vocab_size,
    hidden: c.hidden_size,
    layers: c.num_hidden_layers,
    heads,
    kvHeads,
    headDim: c.head_dim ?? c.hidden_size / heads,
    ffn: c.intermediate_size,
    maxPositions: c.max_position_embeddings,
    normEps: c.rms_norm_eps,
    ropeTheta: c.rope_parameters?.rope_theta ?? c.rope_theta ?? 10000,
    tieEmbeddings: c.tie_word_embeddings,
    qkvBias: c.attention_bias || c.model_type === "qwen2",
    oBias: c.attention_bias,
    mlpBias: c.mlp_bias,
    prefix: "model.",
  };
}

/** An HF config.json object for a normalized config (what written model dirs carry). */
export function toHfConfig(c: DecoderConfig): Record<string, unknown> {
  if (c.arch === "gpt2") {
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
  return {
    architectures: [c.modelType === "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
    model_type: c.modelType,
    vocab_size: c.vocabSize,
    hidden_size: c.hidden,
    intermediate_size: c.ffn,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    head_dim: c.headDim,
    max_position_embeddings: c.maxPositions,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    tie_word_embeddings: c.tieEmbeddings,
    attention_bias: c.oBias,
    mlp_bias: c.mlpBias,
    hidden_act: "silu",
  };
}
