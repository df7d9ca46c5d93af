/**
 * @module LLaMA-family forward graph (LLaMA, SmolLM, Qwen2, Mistral; HF `modeling_llama.py`):
 * RMSNorm, RoPE (rotate-half), GQA via `num_key_value_heads`, SwiGLU MLP, optional q/k/v bias
 * (Qwen2), nn.Linear weights stored [out, in], tied or untied head.
 * Legend: B batch, T sequence, D width, H heads, K kv heads, E head dim, F MLP width, V vocab.
 */
import type { Tensor } from "../graph/ir.ts";
import { add, checkpoint, gatherRows, matmul, mul, transposeLast } from "../graph/ops.ts";
import {
  applyRope,
  causalAttention,
  mergeHeads,
  rmsNorm,
  ropeTables,
  silu,
  splitHeads,
} from "../graph/nn.ts";
import type { DecoderConfig } from "./config.ts";
import type { Init, ParamTable } from "./params.ts";
import { type ForwardInputs, type KV, withPast } from "./inputs.ts";

/** Build the logits (B,T,V) of a LLaMA-family model, declaring parameters in `p`; KV-cache entries go to `present`. */
export function llamaForward(c: DecoderConfig, p: ParamTable, x: ForwardInputs, present: KV[] = []): Tensor {
  const { hidden: D, ffn: F, layers: L, heads: H, kvHeads: K, headDim: E, vocabSize: V } = c;
  const std = { normal: 0.02 };
  /** x @ Wᵀ (+ b) for an nn.Linear stored [out, in]. */
  const proj = (h: Tensor, name: string, out: number, inp: number, bias: boolean, init: Init = std) => {
    const y = matmul(h, transposeLast(p.add(`${name}.weight`, [out, inp], init)));
    return p.adapt(name, h, bias ? add(y, p.add(`${name}.bias`, [out], "zeros")) : y, inp, out);
  };
  const embed = p.add("model.embed_tokens.weight", [V, D], std);
  const { cos, sin } = ropeTables(x.positionIds, E, c.ropeTheta); // (B,1,T,E)
  let h = gatherRows(embed, x.inputIds); // (B,T,D)
  for (let i = 0; i < L; i++) {
    h = checkpoint(h, i); // block input: kept for the backward pass, the block recomputed from it
    const b = `model.layers.${i}`;
    const a = rmsNorm(h, p.add(`${b}.input_layernorm.weight`, [D], "ones"), c.normEps);
    const q = applyRope(splitHeads(proj(a, `${b}.self_attn.q_proj`, H * E, D, c.qkvBias), H, E), cos, sin);
    const [k, v] = withPast(
      x,
      i,
      present,
      applyRope(splitHeads(proj(a, `${b}.self_attn.k_proj`, K * E, D, c.qkvBias), K, E), cos, sin),
      splitHeads(proj(a, `${b}.self_attn.v_proj`, K * E, D, c.qkvBias), K, E),
    ); // (B,K,P+T,E)
    const att = causalAttention(q, k, v, x.attentionMask); // (B,H,T,E), GQA inside the op
    h = add(h, proj(mergeHeads(att), `${b}.self_attn.o_proj`, D, H * E, c.oBias));
    const m = rmsNorm(h, p.add(`${b}.post_attention_layernorm.weight`, [D], "ones"), c.normEps);
    const gate = silu(proj(m, `${b}.mlp.gate_proj`, F, D, c.mlpBias));
    h = add(
      h,
      proj(mul(gate, proj(m, `${b}.mlp.up_proj`, F, D, c.mlpBias)), `${b}.mlp.down_proj`, D, F, c.mlpBias),
    );
  }
  h = rmsNorm(checkpoint(h, L), p.add("model.norm.weight", [D], "ones"), c.normEps);
  const head = c.tieEmbeddings ? embed : p.add("lm_head.weight", [V, D], std);
  return matmul(h, transposeLast(head)); // (B,T,V)
}
