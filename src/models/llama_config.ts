/**
 * @module The LLaMA family's `config.json` as the Hub writes it, with each transformers class's
 * semantics and defaults: Llama (`rope_scaling` llama3/linear/dynamic), SmolLM3 (`no_rope_layers`),
 * Qwen2 (q/k/v bias, never an o_proj bias), Qwen3 (q/k norms, explicit head_dim), Mistral
 * (`sliding_window`), Gemma 3 text ((1 + w) norms, sandwich norms, √D embeddings, local/global RoPE,
 * `layer_types` or every-6th-global), Phi-3 (fused projections, partial rotary, LongRoPE). A key that
 * would change the computation in a way we do not implement is refused with its name.
 */
import { z } from "npm:zod@4.6.7";
import type { DecoderConfig } from "./decoder_config.ts";
import type { RopeSpec } from "./rope.ts";

const FAMILIES = ["llama", "smollm", "smollm3", "qwen2", "qwen3", "mistral", "gemma3_text", "phi3"] as const;
type Family = typeof FAMILIES[number];

/** transformers' class name and `*Config` defaults per model_type. */
const DEFAULTS: Record<Family, { cls: string; theta: number; eps: number; maxPos: number; tie: boolean }> = {
  llama: { cls: "LlamaForCausalLM", theta: 10000, eps: 1e-6, maxPos: 2048, tie: false },
  smollm: { cls: "LlamaForCausalLM", theta: 10000, eps: 1e-6, maxPos: 2048, tie: false },
  smollm3: { cls: "SmolLM3ForCausalLM", theta: 2e6, eps: 1e-6, maxPos: 32768, tie: true },
  qwen2: { cls: "Qwen2ForCausalLM", theta: 10000, eps: 1e-6, maxPos: 32768, tie: false },
  qwen3: { cls: "Qwen3ForCausalLM", theta: 10000, eps: 1e-6, maxPos: 32768, tie: false },
  mistral: { cls: "MistralForCausalLM", theta: 10000, eps: 1e-6, maxPos: 131072, tie: false },
  gemma3_text: { cls: "Gemma3ForCausalLM", theta: 1e6, eps: 1e-6, maxPos: 131072, tie: true },
  phi3: { cls: "Phi3ForCausalLM", theta: 10000, eps: 1e-5, maxPos: 4096, tie: false },
};

const pos = z.number().int().positive();
const num = z.number();
const Rope = z.looseObject({
  rope_type: z.string().optional().describe("RoPE variant"),
  type: z.string().optional().describe("RoPE variant (legacy key)"),
  rope_theta: z.number().positive().optional().describe("RoPE base θ (transformers v5 layout)"),
});
const LlamaSchema = z.looseObject({
  model_type: z.enum(FAMILIES).describe("HF model type"),
  vocab_size: pos.describe("vocabulary size"),
  hidden_size: pos.describe("model width"),
  intermediate_size: pos.describe("MLP width"),
  num_hidden_layers: pos.describe("number of blocks"),
  num_attention_heads: pos.describe("attention heads"),
  num_key_value_heads: pos.nullish().describe("key/value heads (GQA); default = attention heads"),
  head_dim: pos.nullish().describe("head width; default hidden/heads (Qwen3 128, Gemma 3 256)"),
  max_position_embeddings: pos.optional().describe("context length"),
  rms_norm_eps: z.number().positive().optional().describe("RMSNorm ε"),
  rope_theta: z.number().positive().optional().describe("RoPE base θ"),
  rope_scaling: Rope.nullish().describe("RoPE scaling: default, linear, dynamic, llama3, longrope"),
  rope_parameters: z.looseObject({}).nullish().describe("RoPE parameters (transformers v5 layout)"),
  partial_rotary_factor: z.number().gt(0).max(1).optional().describe("rotated fraction of each head (Phi-3)"),
  original_max_position_embeddings: pos.optional().describe("pre-training context (Phi-3 LongRoPE)"),
  tie_word_embeddings: z.boolean().optional().describe("LM head shares the token embedding"),
  attention_bias: z.boolean().optional().describe("bias on q/k/v/o (Llama, SmolLM3, Qwen3, Gemma 3)"),
  mlp_bias: z.boolean().optional().describe("bias on gate/up/down (Llama, SmolLM3)"),
  hidden_act: z.string().optional().describe("MLP activation"),
  hidden_activation: z.string().optional().describe("MLP activation (Gemma)"),
  sliding_window: pos.nullish().describe("sliding-window size (Mistral, Phi-3, Qwen, Gemma 3, SmolLM3)"),
  use_sliding_window: z.boolean().optional().describe("Qwen2/3, SmolLM3: whether sliding_window applies"),
  max_window_layers: z.number().int().min(0).optional().describe("Qwen2/3: layers from this index slide"),
  layer_types: z.array(z.enum(["full_attention", "sliding_attention"])).nullish()
    .describe("attention kind per layer"),
  sliding_window_pattern: pos.optional().describe("Gemma 3: every n-th layer is global (default 6)"),
  no_rope_layers: z.array(z.union([z.literal(0), z.literal(1)])).nullish()
    .describe("SmolLM3: 1 = layer uses RoPE, 0 = NoPE"),
  no_rope_layer_interval: pos.optional().describe("SmolLM3: every n-th layer is NoPE (default 4)"),
  query_pre_attn_scalar: z.number().positive().optional().describe("Gemma 3: scores × scalar^−½"),
  rope_local_base_freq: z.number().positive().optional().describe("Gemma 3: RoPE θ of sliding layers"),
  final_logit_softcapping: num.nullish().describe("logit soft-capping (not supported)"),
  attn_logit_softcapping: num.nullish().describe("attention soft-capping (not supported)"),
  use_bidirectional_attention: z.boolean().optional().describe("Gemma 3 encoder mode (not supported)"),
  quantization_config: z.unknown().optional().describe("quantized checkpoint (not supported)"),
});
type Raw = z.infer<typeof LlamaSchema>;

/** Throws "<source>: <key>: <why>". */
const refuse = (source: string, key: string, why: string): never => {
  throw new Error(`${source}: ${key}: ${why}`);
};

/** A number field of a RoPE dict, required. */
function ropeNum(r: Record<string, unknown>, key: string, where: string, source: string): number {
  const v = r[key];
  if (typeof v !== "number" || !Number.isFinite(v)) refuse(source, `${where}.${key}`, "must be a number");
  return v as number;
}

/** Normalize one RoPE dict (v4 `rope_scaling` or v5 `rope_parameters`) for `dim` rotated dims. */
function ropeSpec(
  r: Record<string, unknown>,
  theta: number,
  dim: number,
  c: Raw,
  where: string,
  source: string,
): RopeSpec {
  const type = String(r.rope_type ?? r.type ?? "default");
  if (type === "default") return { type, theta, dim };
  if (type === "linear" || type === "dynamic") {
    return { type, theta, dim, factor: ropeNum(r, "factor", where, source) };
  }
  if (type === "llama3") {
    return {
      type,
      theta,
      dim,
      factor: ropeNum(r, "factor", where, source),
      lowFreqFactor: ropeNum(r, "low_freq_factor", where, source),
      highFreqFactor: ropeNum(r, "high_freq_factor", where, source),
      originalMax: ropeNum(r, "original_max_position_embeddings", where, source),
    };
  }
  if (type === "longrope") {
    const maxPos = c.max_position_embeddings ?? DEFAULTS[c.model_type].maxPos;
    const orig = c.original_max_position_embeddings ??
      (typeof r.original_max_position_embeddings === "number" ? r.original_max_position_embeddings : maxPos);
    const list = (key: string) => {
      const v = r[key];
      if (!Array.isArray(v) || v.length !== dim / 2 || v.some((x) => typeof x !== "number")) {
        refuse(source, `${where}.${key}`, `must be ${dim / 2} numbers (rotated dims / 2)`);
      }
      return v as number[];
    };
    const factor = typeof r.factor === "number" ? r.factor : maxPos / orig;
    const attentionFactor = typeof r.attention_factor === "number"
      ? r.attention_factor
      : factor <= 1
      ? 1
      : Math.sqrt(1 + Math.log(factor) / Math.log(orig));
    return {
      type,
      theta,
      dim,
      factor,
      originalMax: orig,
      shortFactor: list("short_factor"),
      longFactor: list("long_factor"),
      attentionFactor,
    };
  }
  return refuse(
    source,
    `${where}.rope_type`,
    `"${type}" is not supported (supported: default, linear, dynamic, llama3, longrope)`,
  );
}

/**
 * Parse a LLaMA-family config; errors name the offending field.
 *
 * @example
 * ```ts
 * const c = llamaFromHf({ model_type: "qwen3", vocab_size: 64, hidden_size: 16, intermediate_size: 32,
 *   num_hidden_layers: 2, num_attention_heads: 2 }, "config.json");
 * [c.qkNorm, c.headDim]; // [true, 128]
 * ```
 */
export function llamaFromHf(json: unknown, source: string): DecoderConfig {
  const type = (json as { model_type?: unknown })?.model_type;
  if (typeof type !== "string" || !(FAMILIES as readonly string[]).includes(type)) {
    throw new Error(
      `${source}: model_type: expected gpt2, ${FAMILIES.join(", ")}, got ${JSON.stringify(type)}`,
    );
  }
  const r = LlamaSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`${source}: ${i.path.join(".") || "model_type"}: ${i.message}`);
  }
  const c = r.data, fam = c.model_type, d = DEFAULTS[fam];
  const gemma = fam === "gemma3_text", phi = fam === "phi3";
  if (c.quantization_config !== undefined) {
    refuse(source, "quantization_config", "quantized checkpoints are not supported; use a float checkpoint");
  }
  for (const k of ["final_logit_softcapping", "attn_logit_softcapping"] as const) {
    if (c[k] != null) refuse(source, k, "soft-capping is not supported");
  }
  if (c.use_bidirectional_attention) {
    refuse(source, "use_bidirectional_attention", "bidirectional attention is not supported");
  }
  const actKey = gemma && c.hidden_activation !== undefined ? "hidden_activation" : "hidden_act";
  const act = (gemma ? c.hidden_activation ?? c.hidden_act ?? "gelu_pytorch_tanh" : c.hidden_act) ?? "silu";
  const okAct = gemma ? ["gelu_pytorch_tanh", "gelu_new"] : ["silu"];
  if (!okAct.includes(act)) refuse(source, actKey, `"${act}" is not supported (${okAct.join(" or ")})`);
  const rp = (c.rope_parameters ?? {}) as Record<string, unknown>;
  const partial = c.partial_rotary_factor ??
    (typeof rp.partial_rotary_factor === "number" ? rp.partial_rotary_factor : 1);
  if (partial !== 1 && !phi) {
    refuse(source, "partial_rotary_factor", `partial rotary is only defined for phi3, not ${fam}`);
  }

  const L = c.num_hidden_layers, heads = c.num_attention_heads, kvHeads = c.num_key_value_heads ?? heads;
  if (heads % kvHeads) refuse(source, "num_key_value_heads", "must divide num_attention_heads");
  const headDim = c.head_dim ?? (fam === "qwen3" ? 128 : gemma ? 256 : c.hidden_size / heads);
  if (!Number.isInteger(headDim)) {
    refuse(source, "head_dim", "hidden_size / num_attention_heads is not an integer");
  }
  const rotDim = Math.floor(headDim * partial);
  if (rotDim % 2 || rotDim === 0) {
    refuse(source, "partial_rotary_factor", `gives ${rotDim} rotated dims; need an even number > 0`);
  }

  // RoPE: v4 `rope_theta` + `rope_scaling`, or v5 `rope_parameters` (Gemma 3: one per layer type).
  const nested = gemma && (typeof rp.full_attention === "object" || typeof rp.sliding_attention === "object");
  const globalRp = { ...(nested ? rp.full_attention as object : rp), ...(c.rope_scaling ?? {}) } as Record<
    string,
    unknown
  >;
  const theta = (globalRp.rope_theta as number | undefined) ?? c.rope_theta ?? d.theta;
  const where = c.rope_scaling
    ? "rope_scaling"
    : nested
    ? "rope_parameters.full_attention"
    : "rope_parameters";
  if ((globalRp.rope_type ?? globalRp.type) === "longrope" && !phi) {
    refuse(source, `${where}.rope_type`, `"longrope" is only defined for phi3 here`);
  }
  const rope = ropeSpec(globalRp, theta, rotDim, c, where, source);

  // Per-layer attention kind (full / sliding) and RoPE use.
  const qwen = fam === "qwen2" || fam === "qwen3";
  const sw = qwen || fam === "smollm3"
    ? (c.use_sliding_window ? c.sliding_window ?? (qwen ? 4096 : null) : null)
    : c.sliding_window === undefined
    ? (fam === "mistral" ? 4096 : gemma ? 4096 : null)
    : c.sliding_window;
  const noRope = fam === "smollm3"
    ? c.no_rope_layers ??
      Array.from({ length: L }, (_, i) => ((i + 1) % (c.no_rope_layer_interval ?? 4) ? 1 : 0))
    : undefined;
  if (noRope && noRope.length < L) {
    refuse(source, "no_rope_layers", `has ${noRope.length} entries for ${L} layers`);
  }
  const derived = (i: number): boolean => {
    if (gemma) return ((i + 1) % (c.sliding_window_pattern ?? 6)) !== 0;
    if (qwen) return sw != null && i >= (c.max_window_layers ?? 28);
    if (fam === "smollm3") return !!c.use_sliding_window && sw != null && !noRope![i];
    return sw != null && (fam === "mistral" || phi); // every layer when sliding_window is set; Llama ignores it
  };
  const hasTypes = c.layer_types && (gemma || qwen || fam === "smollm3");
  if (hasTypes && c.layer_types!.length !== L) {
    refuse(source, "layer_types", `has ${c.layer_types!.length} entries for ${L} layers`);
  }
  const sliding = Array.from(
    { length: L },
    (_, i) => hasTypes ? c.layer_types![i] === "sliding_attention" : derived(i),
  );
  if (sliding.some((s) => s) && sw == null) {
    refuse(source, "sliding_window", "layer_types has sliding_attention layers but no window is set");
  }
  let localRope: RopeSpec | undefined;
  if (gemma) {
    const lrp = (nested ? rp.sliding_attention ?? {} : {}) as Record<string, unknown>;
    const localTheta = (lrp.rope_theta as number | undefined) ?? c.rope_local_base_freq ?? 10000;
    localRope = ropeSpec(lrp, localTheta, rotDim, c, "rope_parameters.sliding_attention", source);
  }
  const bias = c.attention_bias ?? false;
  return {
    arch: "llama",
    modelType: fam,
    vocabSize: c.vocab_size,
    hidden: c.hidden_size,
    layers: L,
    heads,
    kvHeads,
    headDim,
    ffn: c.intermediate_size,
    maxPositions: c.max_position_embeddings ?? d.maxPos,
    normEps: c.rms_norm_eps ?? d.eps,
    ropeTheta: theta,
    tieEmbeddings: c.tie_word_embeddings ?? d.tie,
    // HF's Qwen2 hard-codes q/k/v bias and no o_proj bias; Mistral and Phi-3 have no biases at all.
    qkvBias: fam === "qwen2" || (bias && !["mistral", "phi3"].includes(fam)),
    oBias: bias && !["qwen2", "mistral", "phi3"].includes(fam),
    mlpBias: (c.mlp_bias ?? false) && ["llama", "smollm", "smollm3"].includes(fam),
    prefix: "model.",
    rope,
    ...(localRope && { localRope }),
    window: sliding.map((s) => (s ? sw : null)),
    useRope: Array.from({ length: L }, (_, i) => (noRope ? noRope[i] === 1 : true)),
    qkNorm: fam === "qwen3" || gemma,
    normOffset: gemma ? 1 : 0,
    sandwichNorms: gemma,
    embedScale: gemma ? Math.fround(Math.sqrt(c.hidden_size)) : 1,
    attnScalar: gemma ? c.query_pre_attn_scalar ?? 256 : headDim,
    act: gemma ? "gelu_tanh" : "silu",
    fused: phi,
  };
}

/** The `rope_scaling` dict of a spec (null for plain RoPE). */
function ropeScaling(s: RopeSpec): Record<string, unknown> | null {
  switch (s.type) {
    case "default":
      return null;
    case "linear":
    case "dynamic":
      return { rope_type: s.type, factor: s.factor };
    case "llama3":
      return {
        rope_type: "llama3",
        factor: s.factor,
        low_freq_factor: s.lowFreqFactor,
        high_freq_factor: s.highFreqFactor,
        original_max_position_embeddings: s.originalMax,
      };
    case "longrope":
      return {
        type: "longrope",
        factor: s.factor,
        attention_factor: s.attentionFactor,
        short_factor: s.shortFactor,
        long_factor: s.longFactor,
      };
  }
}

/**
 * The HF config.json of a LLaMA-family config (inverse of {@link llamaFromHf}).
 *
 * @example
 * ```ts
 * const c = llamaFromHf({ model_type: "mistral", vocab_size: 64, hidden_size: 16, intermediate_size: 32,
 *   num_hidden_layers: 2, num_attention_heads: 2 }, "config.json");
 * llamaToHf(c).sliding_window; // 4096 (MistralConfig's default)
 * ```
 */
export function llamaToHf(c: DecoderConfig): Record<string, unknown> {
  const fam = c.modelType as Family;
  const window = c.window.find((w) => w != null) ?? null;
  const layerTypes = c.window.map((w) => (w == null ? "full_attention" : "sliding_attention"));
  const out: Record<string, unknown> = {
    architectures: [DEFAULTS[fam]?.cls ?? "LlamaForCausalLM"],
    model_type: fam,
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
    rope_scaling: ropeScaling(c.rope),
    tie_word_embeddings: c.tieEmbeddings,
  };
  if (fam === "gemma3_text") {
    return {
      ...out,
      attention_bias: c.oBias,
      hidden_activation: "gelu_pytorch_tanh",
      query_pre_attn_scalar: c.attnScalar,
      rope_local_base_freq: c.localRope?.theta,
      sliding_window: window,
      layer_types: layerTypes,
      final_logit_softcapping: null,
      attn_logit_softcapping: null,
    };
  }
  if (fam === "phi3") {
    return {
      ...out,
      hidden_act: "silu",
      partial_rotary_factor: c.rope.dim / c.headDim,
      sliding_window: window,
      ...(c.rope.originalMax !== undefined && { original_max_position_embeddings: c.rope.originalMax }),
    };
  }
  const base = { ...out, hidden_act: "silu" };
  if (fam === "mistral") return { ...base, sliding_window: window };
  if (fam === "qwen2" || fam === "qwen3") {
    return {
      ...base,
      ...(fam === "qwen3" && { attention_bias: c.oBias }),
      use_sliding_window: window != null,
      sliding_window: window,
      max_window_layers: c.layers,
      layer_types: layerTypes,
    };
  }
  const llama = { ...base, attention_bias: c.oBias, mlp_bias: c.mlpBias };
  if (fam !== "smollm3") return llama;
  return {
    ...llama,
    no_rope_layers: c.useRope.map((u) => (u ? 1 : 0)),
    use_sliding_window: window != null,
    sliding_window: window,
    layer_types: layerTypes,
  };
}
