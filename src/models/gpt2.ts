/**
 * @module GPT-2 forward graph (Radford et al. 2019; HF `modeling_gpt2.py`): learned positions,
 * pre-LayerNorm blocks, fused c_attn, GELU-tanh MLP, Conv1D weights stored [in, out], tied head.
 * Legend: B batch, T sequence, D width, H heads, E head dim, F MLP width, V vocab.
 */
import type { Tensor } from "../graph/ir.ts";
import { add, gatherRows, matmul, slice, transposeLast } from "../graph/ops.ts";
import { causalAttention, geluTanh, layerNorm, linear, mergeHeads, splitHeads } from "../graph/nn.ts";
import type { DecoderConfig } from "./config.ts";
import type { ParamTable } from "./params.ts";
import { type ForwardInputs, type KV, withPast } from "./model.ts";

/** Build GPT-2's logits (B,T,V), declaring parameters in `p`; KV-cache entries go to `present`. */
export function gpt2Forward(c: DecoderConfig, p: ParamTable, x: ForwardInputs, present: KV[] = []): Tensor {
  const { hidden: D, ffn: F, layers: L, heads: H, headDim: E, vocabSize: V } = c;
  const n = (s: string) => c.prefix + s;
  const std = { normal: 0.02 }, resid = { normal: 0.02 / Math.sqrt(2 * L) };
  const wte = p.add(n("wte.weight"), [V, D], std);
  const wpe = p.add(n("wpe.weight"), [c.maxPositions, D], { normal: 0.01 });
  let h = add(gatherRows(wte, x.inputIds), gatherRows(wpe, x.positionIds)); // (B,T,D)
  for (let i = 0; i < L; i++) {
    const b = (s: string) => n(`h.${i}.${s}`);
    const a = layerNorm(
      h,
      p.add(b("ln_1.weight"), [D], "ones"),
      p.add(b("ln_1.bias"), [D], "zeros"),
      c.normEps,
    );
    const qkv = linear(
      a,
      p.add(b("attn.c_attn.weight"), [D, 3 * D], std),
      p.add(b("attn.c_attn.bias"), [3 * D], "zeros"),
    );
    const q = splitHeads(slice(qkv, -1, 0, D), H, E); // (B,H,T,E)
    const [k, v] = withPast(
      x,
      i,
      present,
      splitHeads(slice(qkv, -1, D, 2 * D), H, E),
      splitHeads(slice(qkv, -1, 2 * D, 3 * D), H, E),
    );
    const att = mergeHeads(causalAttention(q, k, v, x.attentionMask)); // (B,T,D)
    h = add(
      h,
      linear(att, p.add(b("attn.c_proj.weight"), [D, D], resid), p.add(b("attn.c_proj.bias"), [D], "zeros")),
    );
    const m = layerNorm(
      h,
      p.add(b("ln_2.weight"), [D], "ones"),
      p.add(b("ln_2.bias"), [D], "zeros"),
      c.normEps,
    );
    const up = geluTanh(
      linear(m, p.add(b("mlp.c_fc.weight"), [D, F], std), p.add(b("mlp.c_fc.bias"), [F], "zeros")),
    );
    h = add(
      h,
      linear(up, p.add(b("mlp.c_proj.weight"), [F, D], resid), p.add(b("mlp.c_proj.bias"), [D], "zeros")),
    );
  }
  h = layerNorm(h, p.add(n("ln_f.weight"), [D], "ones"), p.add(n("ln_f.bias"), [D], "zeros"), c.normEps);
  const head = c.tieEmbeddings ? wte : p.add("lm_head.weight", [V, D], std);
  return matmul(h, transposeLast(head)); // (B,T,V)
}
