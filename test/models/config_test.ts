/**
 * config.json as the Hub writes it for the checkpoints people fine-tune (the fields that matter,
 * values as published), transformers' defaults when a key is absent, the v5 `rope_parameters`
 * layout, and refusals that name the key.
 */
import assert from "node:assert/strict";
import { parseConfig, toHfConfig } from "../../src/models/config.ts";
import { ropeFrequencies } from "../../src/models/rope.ts";

const LLAMA_3_2_1B = {
  architectures: ["LlamaForCausalLM"],
  attention_bias: false,
  head_dim: 64,
  hidden_act: "silu",
  hidden_size: 2048,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: "llama",
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: {
    factor: 32.0,
    high_freq_factor: 4.0,
    low_freq_factor: 1.0,
    original_max_position_embeddings: 8192,
    rope_type: "llama3",
  },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  vocab_size: 128256,
};
const QWEN2_5_0_5B = {
  architectures: ["Qwen2ForCausalLM"],
  hidden_act: "silu",
  hidden_size: 896,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: "qwen2",
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  use_sliding_window: false,
  vocab_size: 151936,
};
const QWEN3_0_6B = {
  architectures: ["Qwen3ForCausalLM"],
  attention_bias: false,
  head_dim: 128,
  hidden_act: "silu",
  hidden_size: 1024,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  model_type: "qwen3",
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  use_sliding_window: false,
  vocab_size: 151936,
};
const SMOLLM3_3B = {
  architectures: ["SmolLM3ForCausalLM"],
  hidden_size: 2048,
  intermediate_size: 11008,
  max_position_embeddings: 65536,
  model_type: "smollm3",
  no_rope_layer_interval: 4,
  no_rope_layers: Array.from({ length: 36 }, (_, i) => ((i + 1) % 4 ? 1 : 0)),
  num_attention_heads: 16,
  num_hidden_layers: 36,
  num_key_value_heads: 4,
  rms_norm_eps: 1e-6,
  rope_theta: 5000000.0,
  sliding_window: null,
  use_sliding_window: false,
  tie_word_embeddings: true,
  vocab_size: 128256,
};
const GEMMA_3_270M = {
  architectures: ["Gemma3ForCausalLM"],
  attention_bias: false,
  attn_logit_softcapping: null,
  final_logit_softcapping: null,
  head_dim: 256,
  hidden_activation: "gelu_pytorch_tanh",
  hidden_size: 640,
  intermediate_size: 2048,
  layer_types: Array.from({ length: 18 }, (_, i) => ((i + 1) % 6 ? "sliding_attention" : "full_attention")),
  max_position_embeddings: 32768,
  model_type: "gemma3_text",
  num_attention_heads: 4,
  num_hidden_layers: 18,
  num_key_value_heads: 1,
  query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6,
  rope_local_base_freq: 10000.0,
  rope_scaling: null,
  rope_theta: 1000000.0,
  sliding_window: 512,
  use_bidirectional_attention: false,
  vocab_size: 262144,
};
const PHI_3_MINI_4K = {
  architectures: ["Phi3ForCausalLM"],
  attention_dropout: 0.0,
  embd_pdrop: 0.0,
  hidden_act: "silu",
  hidden_size: 3072,
  intermediate_size: 8192,
  max_position_embeddings: 4096,
  model_type: "phi3",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 32,
  original_max_position_embeddings: 4096,
  resid_pdrop: 0.0,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  sliding_window: 2047,
  tie_word_embeddings: false,
  vocab_size: 32064,
};
const PHI_4_MINI = {
  ...PHI_3_MINI_4K,
  max_position_embeddings: 131072,
  num_attention_heads: 24,
  num_key_value_heads: 8,
  partial_rotary_factor: 0.75,
  rope_scaling: {
    long_factor: Array.from({ length: 48 }, (_, i) => 1 + i / 2),
    short_factor: Array.from({ length: 48 }, () => 1),
    type: "longrope",
  },
  sliding_window: 262144,
  tie_word_embeddings: true,
  vocab_size: 200064,
};
const MISTRAL_7B_V0_3 = {
  architectures: ["MistralForCausalLM"],
  hidden_act: "silu",
  hidden_size: 4096,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: "mistral",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 1000000.0,
  sliding_window: null,
  tie_word_embeddings: false,
  vocab_size: 32768,
};

Deno.test("Hub configs parse with each family's semantics and round-trip", () => {
  const llama = parseConfig(LLAMA_3_2_1B);
  assert.equal(llama.rope.type, "llama3");
  assert.deepEqual([llama.rope.factor, llama.rope.originalMax, llama.headDim], [32, 8192, 64]);
  const qwen2 = parseConfig(QWEN2_5_0_5B);
  assert.deepEqual([qwen2.qkvBias, qwen2.oBias, qwen2.window.every((w) => w === null)], [true, false, true]);
  const qwen3 = parseConfig(QWEN3_0_6B);
  assert.deepEqual([qwen3.qkNorm, qwen3.headDim, qwen3.heads * qwen3.headDim], [true, 128, 2048]);
  const smol = parseConfig(SMOLLM3_3B);
  assert.deepEqual(smol.useRope.slice(0, 8), [true, true, true, false, true, true, true, false]);
  const gemma = parseConfig(GEMMA_3_270M);
  assert.deepEqual(gemma.window.slice(4, 7), [512, null, 512]);
  assert.deepEqual(
    [gemma.localRope?.theta, gemma.rope.theta, gemma.attnScalar, gemma.normOffset, gemma.act],
    [10000, 1e6, 256, 1, "gelu_tanh"],
  );
  assert.equal(gemma.embedScale, Math.fround(Math.sqrt(640)));
  const phi3 = parseConfig(PHI_3_MINI_4K);
  assert.deepEqual([phi3.fused, phi3.window[0], phi3.rope.dim], [true, 2047, 96]);
  const phi4 = parseConfig(PHI_4_MINI);
  assert.deepEqual([phi4.rope.type, phi4.rope.dim, phi4.rope.originalMax], ["longrope", 96, 4096]);
  assert.ok(Math.abs(phi4.rope.attentionFactor! - Math.sqrt(1 + Math.log(32) / Math.log(4096))) < 1e-12);
  assert.deepEqual(parseConfig(MISTRAL_7B_V0_3).window[0], null);
  for (const c of [llama, qwen2, qwen3, smol, gemma, phi3, phi4]) {
    assert.deepEqual(parseConfig(toHfConfig(c)), c, c.modelType);
  }
});

Deno.test("absent keys take transformers' defaults per family", () => {
  const base = {
    vocab_size: 32,
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 12,
    num_attention_heads: 2,
  };
  // Gemma 3: every 6th layer global, sliding_window 4096, head_dim 256, θ 1e6 / 1e4, qpas 256, tied
  const g = parseConfig({ ...base, model_type: "gemma3_text" });
  assert.deepEqual(g.window.map((w) => (w === null ? "F" : "S")).join(""), "SSSSSFSSSSSF");
  assert.deepEqual([g.window[0], g.headDim, g.ropeTheta, g.localRope!.theta, g.attnScalar], [
    4096,
    256,
    1e6,
    1e4,
    256,
  ]);
  assert.equal(
    parseConfig({ ...base, model_type: "gemma3_text", sliding_window_pattern: 3 }).window[2],
    null,
  );
  // SmolLM3: every 4th layer NoPE, θ 2e6; Mistral: sliding_window 4096 unless null
  const s = parseConfig({ ...base, model_type: "smollm3" });
  assert.deepEqual([s.useRope[3], s.useRope[7], s.useRope[0], s.ropeTheta, s.tieEmbeddings], [
    false,
    false,
    true,
    2e6,
    true,
  ]);
  assert.equal(parseConfig({ ...base, model_type: "mistral" }).window[0], 4096);
  // Qwen2/3: windows only with use_sliding_window, from max_window_layers (default 28) on; Qwen3 head_dim 128
  const q = parseConfig({ ...base, model_type: "qwen2", use_sliding_window: true, max_window_layers: 10 });
  assert.deepEqual([q.window[9], q.window[10]], [null, 4096]);
  assert.equal(parseConfig({ ...base, model_type: "qwen3" }).headDim, 128);
  // Phi-3: ε 1e-5, no window unless given; Llama ignores sliding_window
  assert.deepEqual([
    parseConfig({ ...base, model_type: "phi3" }).normEps,
    parseConfig({ ...base, model_type: "phi3" }).window[0],
  ], [1e-5, null]);
  assert.equal(parseConfig({ ...base, model_type: "llama", sliding_window: 8 }).window[0], null);
});

Deno.test("transformers v5 rope_parameters layout (flat, and Gemma 3's per layer type)", () => {
  const q = parseConfig({
    ...QWEN3_0_6B,
    rope_theta: undefined,
    rope_parameters: { rope_type: "default", rope_theta: 5e5 },
  });
  assert.equal(q.ropeTheta, 5e5);
  const g = parseConfig({
    ...GEMMA_3_270M,
    rope_theta: undefined,
    rope_local_base_freq: undefined,
    rope_parameters: {
      full_attention: { rope_type: "linear", factor: 8, rope_theta: 1e6 },
      sliding_attention: { rope_type: "default", rope_theta: 1e4 },
    },
  });
  assert.deepEqual([g.rope.type, g.rope.factor, g.localRope!.theta], ["linear", 8, 1e4]);
});

Deno.test("RoPE variants: linear divides, dynamic equals default within the context, llama3 bands", () => {
  const dim = 8, theta = 10000;
  const base = ropeFrequencies({ type: "default", theta, dim }).invFreq;
  assert.deepEqual(ropeFrequencies({ type: "dynamic", theta, dim, factor: 4 }).invFreq, base);
  assert.deepEqual(
    ropeFrequencies({ type: "linear", theta, dim, factor: 2 }).invFreq,
    base.map((f) => Math.fround(f / 2)),
  );
  const l3 = ropeFrequencies({
    type: "llama3",
    theta,
    dim,
    factor: 8,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMax: 16,
  }).invFreq;
  // wavelengths 2π, 20π, 200π, 2000π against bands (4, 16): blended, then ÷8 ×3
  assert.ok(l3[0] < base[0] && l3[0] > base[0] / 8);
  for (const i of [1, 2, 3]) assert.equal(l3[i], Math.fround(base[i] / 8));
});

Deno.test("unsupported keys are refused with their name", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ ...LLAMA_3_2_1B, rope_scaling: { rope_type: "yarn", factor: 4 } }, 'rope_scaling.rope_type: "yarn"'],
    [{ ...LLAMA_3_2_1B, rope_scaling: { type: "longrope", short_factor: [], long_factor: [] } }, "longrope"],
    [{ ...GEMMA_3_270M, final_logit_softcapping: 30 }, "final_logit_softcapping"],
    [{ ...GEMMA_3_270M, attn_logit_softcapping: 50 }, "attn_logit_softcapping"],
    [{ ...GEMMA_3_270M, use_bidirectional_attention: true }, "use_bidirectional_attention"],
    [{ ...GEMMA_3_270M, hidden_activation: "gelu" }, "hidden_activation"],
    [{ ...QWEN3_0_6B, hidden_act: "gelu" }, "hidden_act"],
    [{ ...LLAMA_3_2_1B, partial_rotary_factor: 0.5 }, "partial_rotary_factor"],
    [{ ...QWEN3_0_6B, quantization_config: { quant_method: "gptq" } }, "quantization_config"],
    [{ ...PHI_4_MINI, rope_scaling: { ...PHI_4_MINI.rope_scaling, short_factor: [1, 2] } }, "short_factor"],
    [{ ...LLAMA_3_2_1B, rope_scaling: { rope_type: "llama3", factor: 8 } }, "rope_scaling.low_freq_factor"],
    [{ ...GEMMA_3_270M, layer_types: ["sliding_attention"] }, "layer_types"],
    [{ ...QWEN3_0_6B, layer_types: Array(28).fill("sliding_attention") }, "sliding_window"],
    [{ ...LLAMA_3_2_1B, model_type: "gemma2" }, "model_type"],
  ];
  for (const [cfg, key] of cases) {
    assert.throws(() => parseConfig(cfg, "config.json"), (e: Error) => e.message.includes(key), key);
  }
});
