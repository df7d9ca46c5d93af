/**
 * @module LLaMA-family forward graph (HF `modeling_llama.py` and its descendants): RMSNorm, RoPE
 * (rotate-half; scaled, partial or per layer kind), GQA, gated MLP, nn.Linear weights stored
 * [out, in], tied or untied head. Per-family switches come from the config (`llama_config.ts`):
 * q/k/v/o biases (Qwen2), per-head q/k RMSNorm before RoPE (Qwen3, Gemma 3), NoPE layers (SmolLM3),
 * sliding windows (Mistral, Phi-3, Qwen, Gemma 3), Gemma 3's (1 + w) and sandwich norms, √D
 * embeddings, `query_pre_attn_scalar` and GELU-tanh, Phi-3's fused `qkv_proj` / `gate_up_proj`.
 * Legend: B batch, T sequence, D width, H heads, K kv heads, E head dim, F MLP width, V vocab.
 */
import type { Tensor } from "../graph/ir.ts";
import { add, checkpoint, gatherRows, matmul, mul, slice, transposeLast } from "../graph/ops.ts";
import { applyRope, causalAttention, geluTanh, mergeHeads, rmsNorm, silu, splitHeads } from "../graph/nn.ts";
import type { DecoderConfig } from "./config.ts";
import type { Init, ParamTable } from "./params.ts";
import { type ForwardInputs, type KV, withPast } from "./inputs.ts";
import { ropeFor, type RopeSpec } from "./rope.ts";

/** Build the logits (B,T,V) of a LLaMA-family model, declaring parameters in `p`; KV-cache entries go to `present`. */
export function llamaForward(c: DecoderConfig, p: ParamTable, x: ForwardInputs, present: KV[] = []): Tensor {
  const { hidden: D, ffn: F, layers: L, heads: H, kvHeads: K, headDim: E, vocabSize: V } = c;
  const std = { normal: 0.02 };
  /** x @ Wᵀ (+ b) for an nn.Linear stored [out, in]. */
  const proj = (h: Tensor, name: string, out: number, inp: number, bias: boolean, init: Init = std) => {
    const y = matmul(h, transposeLast(p.add(`${name}.weight`, [out, inp], init)));
    return p.adapt(name, h, bias ? add(y, p.add(`${name}.bias`, [out], "zeros")) : y, inp, out);
  };
  /** RMSNorm over the last axis (width `n`); Gemma's gains are stored as w − 1 and start at 0. */
  const norm = (h: Tensor, name: string, n = D) =>
    rmsNorm(h, p.add(name, [n], c.normOffset ? "zeros" : "ones"), c.normEps, c.normOffset);
  const tables = new Map<RopeSpec, { cos: Tensor; sin: Tensor }>();
  const ropeOf = (s: RopeSpec) => tables.get(s) ?? tables.set(s, ropeFor(s, x.positionIds)).get(s)!;
  const act = c.act === "silu" ? silu : geluTanh;

  const embed = p.add("model.embed_tokens.weight", [V, D], std);
  let h = gatherRows(embed, x.inputIds); // (B,T,D)
  if (c.embedScale !== 1) h = mul(h, c.embedScale);
  for (let i = 0; i < L; i++) {
    h = checkpoint(h, i); // block input: kept for the backward pass, the block recomputed from it
    const b = `model.layers.${i}`;
    const a = norm(h, `${b}.input_layernorm.weight`);
    let q: Tensor, k: Tensor, v: Tensor;
    if (c.fused) {
      const qkv = proj(a, `${b}.self_attn.qkv_proj`, (H + 2 * K) * E, D, false);
      [q, k, v] = [
        slice(qkv, -1, 0, H * E),
        slice(qkv, -1, H * E, (H + K) * E),
        slice(qkv, -1, (H + K) * E, (H + 2 * K) * E),
      ];
    } else {
      q = proj(a, `${b}.self_attn.q_proj`, H * E, D, c.qkvBias);
      k = proj(a, `${b}.self_attn.k_proj`, K * E, D, c.qkvBias);
      v = proj(a, `${b}.self_attn.v_proj`, K * E, D, c.qkvBias);
    }
    [q, k, v] = [splitHeads(q, H, E), splitHeads(k, K, E), splitHeads(v, K, E)]; // (B,H|K,T,E)
    if (c.qkNorm) {
      [q, k] = [norm(q, `${b}.self_attn.q_norm.weight`, E), norm(k, `${b}.self_attn.k_norm.weight`, E)];
    }
    const window = c.window[i] ?? undefined;
    if (c.useRope[i]) {
      const { cos, sin } = ropeOf(window !== undefined && c.localRope ? c.localRope : c.rope); // (B,1,T,E)
      [q, k] = [applyRope(q, cos, sin), applyRope(k, cos, sin)];
    }
    const [kc, vc] = withPast(x, i, present, k, v); // (B,K,P+T,E)
    const att = causalAttention(q, kc, vc, x.attentionMask, { // GQA inside the fused op
      window,
      scale: 1 / Math.sqrt(c.attnScalar),
    }); // (B,H,T,E)
    let o = proj(mergeHeads(att), `${b}.self_attn.o_proj`, D, H * E, c.oBias);
    if (c.sandwichNorms) o = norm(o, `${b}.post_attention_layernorm.weight`);
    h = add(h, o);
    const m = norm(
      h,
      `${b}.${c.sandwichNorms ? "pre_feedforward_layernorm" : "post_attention_layernorm"}.weight`,
    );
    let gate: Tensor, up: Tensor;
    if (c.fused) {
      const gu = proj(m, `${b}.mlp.gate_up_proj`, 2 * F, D, false);
      [gate, up] = [slice(gu, -1, 0, F), slice(gu, -1, F, 2 * F)];
    } else {
      gate = proj(m, `${b}.mlp.gate_proj`, F, D, c.mlpBias);
      up = proj(m, `${b}.mlp.up_proj`, F, D, c.mlpBias);
    }
    let y = proj(mul(act(gate), up), `${b}.mlp.down_proj`, D, F, c.mlpBias);
    if (c.sandwichNorms) y = norm(y, `${b}.post_feedforward_layernorm.weight`);
    h = add(h, y);
  }
  h = norm(checkpoint(h, L), "model.norm.weight");
  const head = c.tieEmbeddings ? embed : p.add("lm_head.weight", [V, D], std);
  return matmul(h, transposeLast(head)); // (B,T,V)
}
