/**
 * @module GPT-2 forward graph (Radford et al. 2019; HF `modeling_gpt2.py`): learned positions,
 * pre-LayerNorm blocks, fused c_attn, GELU-tanh MLP, Conv1D weights stored [in, out], tied head.
 * Legend: B batch, T sequence, D width, H heads, E head dim, F MLP width, V vocab.
 */
import type { Tensor } from "../graph/ir.ts";
import { add, checkpoint, gatherRows, matmul, slice, transposeLast } from "../graph/ops.ts";
import { causalAttention, geluTanh, layerNorm, linear, mergeHeads, splitHeads } from "../graph/nn.ts";
import type { DecoderConfig } from "./config.ts";
import type { Init, ParamTable } from "./params.ts";
import { type ForwardInputs, type KV, withPast } from "./inputs.ts";

/** Build GPT-2's logits (B,T,V), declaring parameters in `p`; KV-cache entries go to `present`. */
export function gpt2Forward(c: DecoderConfig, p: ParamTable, x: ForwardInputs, present: KV[] = []): Tensor {
  const { hidden: D, ffn: F, layers: L, heads: H, headDim: E, vocabSize: V } = c;
  const n = (s: string) => c.prefix + s;
  const std = { normal: 0.02 }, resid = { normal: 0.02 / Math.sqrt(2 * L) };
  const wte = p.add(n("wte.weight"), [V, D], std);
  const wpe = p.add(n("wpe.weight"), [c.maxPositions, D], { normal: 0.01 });
  /** Conv1D layer `module` (weight [in, out], bias [out]) with the adapter hook. */
  const conv1d = (h: Tensor, module: string, inDim: number, outDim: number, init: Init) =>
    p.adapt(
      module,
      h,
      linear(h, p.add(`${module}.weight`, [inDim, outDim], init), p.add(`${module}.bias`, [outDim], "zeros")),
      inDim,
      outDim,
    );
  let h = add(gatherRows(wte, x.inputIds), gatherRows(wpe, x.positionIds)); // (B,T,D)
  for (let i = 0; i < L; i++) {
    h = checkpoint(h, i); // block input: kept for the backward pass, the block recomputed from it
    const b = (s: string) => n(`h.${i}.${s}`);
    const a = layerNorm(
      h,
      p.add(b("ln_1.weight"), [D], "ones"),
      p.add(b("ln_1.bias"), [D], "zeros"),
      c.normEps,
    );
    const qkv = conv1d(a, b("attn.c_attn"), D, 3 * D, std);
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
      conv1d(att, b("attn.c_proj"), D, D, resid),
    );
    const m = layerNorm(
      h,
      p.add(b("ln_2.weight"), [D], "ones"),
      p.add(b("ln_2.bias"), [D], "zeros"),
      c.normEps,
    );
    const up = geluTanh(
      conv1d(m, b("mlp.c_fc"), D, F, std),
    );
    h = add(
      h,
      conv1d(up, b("mlp.c_proj"), F, D, resid),
    );
  }
  h = layerNorm(
    checkpoint(h, L),
    p.add(n("ln_f.weight"), [D], "ones"),
    p.add(n("ln_f.bias"), [D], "zeros"),
    c.normEps,
  );
  const head = c.tieEmbeddings ? wte : p.add("lm_head.weight", [V, D], std);
  return matmul(h, transposeLast(head)); // (B,T,V)
}
