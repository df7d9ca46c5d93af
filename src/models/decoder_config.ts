/** @module The normalized decoder config every model builder reads (parsed from HF `config.json` by config.ts). */
import type { RopeSpec } from "./rope.ts";

/** The normalized shape of a decoder-only model. */
export interface DecoderConfig {
  /** Graph builder: GPT-2 (Conv1D, LayerNorm, learned positions) or the LLaMA family (nn.Linear, RMSNorm, RoPE). */
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
  /** RoPE base θ of full-attention layers (0 for GPT-2). */
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
  /** RoPE of full-attention layers (and of every layer unless `localRope`). */
  rope: RopeSpec;
  /** Gemma 3: RoPE of sliding-window layers (`rope_local_base_freq`). */
  localRope?: RopeSpec;
  /** Per layer: sliding-window size in tokens, or null for full causal attention. */
  window: (number | null)[];
  /** Per layer: whether q and k are rotated (SmolLM3's NoPE layers: false). */
  useRope: boolean[];
  /** Per-head RMSNorm on q and k before RoPE (Qwen3, Gemma 3). */
  qkNorm: boolean;
  /** RMSNorm gain offset: 1 for Gemma's (1 + w), else 0. */
  normOffset: number;
  /** Gemma 3's four norms per layer (post-attention, pre- and post-feed-forward). */
  sandwichNorms: boolean;
  /** Token embeddings are multiplied by this (Gemma: √hidden). */
  embedScale: number;
  /** Attention scores × attnScalar^−½ (head_dim; Gemma 3: `query_pre_attn_scalar`). */
  attnScalar: number;
  /** MLP gate activation: SiLU (SwiGLU) or GELU-tanh (GeGLU, Gemma). */
  act: "silu" | "gelu_tanh";
  /** Phi-3: one fused `qkv_proj` and one fused `gate_up_proj` per layer. */
  fused: boolean;
}
