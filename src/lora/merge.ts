/**
 * @module Merge and unmerge LoRA adapters into base weights: W ← W ± (α/r)·B A (nn.Linear, [out, in]),
 * or its transpose for GPT-2's Conv1D ([in, out], PEFT `fan_in_fan_out`). Several adapters merge
 * by summing their deltas.
 */
import type { DecoderConfig } from "../models/config.ts";
import type { Weights } from "../models/weights.ts";
import { loraKey, moduleRankScale } from "./lora.ts";
import type { Adapter } from "./peft.ts";

/** Modules an adapter carries (from its A keys). */
export function adapterModules(a: Adapter): string[] {
  return [...a.weights.keys()].filter((k) => k.endsWith(".lora_A.weight"))
    .map((k) => k.slice("base_model.model.".length, -".lora_A.weight".length));
}

function apply(config: DecoderConfig, weights: Weights, a: Adapter, sign: 1 | -1): void {
  const convT = config.arch === "gpt2"; // Conv1D stores [in, out]
  for (const m of adapterModules(a)) {
    const w = weights.get(`${m}.weight`);
    if (!w) throw new Error(`adapter targets ${m}, which the model does not have`);
    const A = a.weights.get(loraKey(m, "A"))!, B = a.weights.get(loraKey(m, "B"));
    if (!B) throw new Error(`adapter has ${loraKey(m, "A")} but no lora_B`);
    const [r, inDim] = a.shapes.get(loraKey(m, "A"))!, outDim = a.shapes.get(loraKey(m, "B"))![0];
    if (w.length !== inDim * outDim) {
      throw new Error(`adapter ${m}: [${outDim}×${inDim}] does not fit the weight`);
    }
    const s = sign * moduleRankScale({ ...a.config, rank: r }, m).scale;
    const row = new Float64Array(inDim);
    for (let o = 0; o < outDim; o++) {
      row.fill(0);
      for (let k = 0; k < r; k++) {
        const b = B[o * r + k];
        if (b === 0) continue;
        for (let i = 0; i < inDim; i++) row[i] += b * A[k * inDim + i];
      }
      for (let i = 0; i < inDim; i++) w[convT ? i * outDim + o : o * inDim + i] += s * row[i];
    }
  }
}

/**
 * Add the adapters' deltas to `weights` in place (copy first to keep the base).
 *
 * @example
 * ```ts ignore
 * const merged = new Map([...base].map(([k, v]) => [k, v.slice()]));
 * mergeAdapters(config, merged, [await loadAdapter("./adapter")]);
 * ```
 */
export function mergeAdapters(config: DecoderConfig, weights: Weights, adapters: Adapter[]): void {
  for (const a of adapters) apply(config, weights, a, 1);
}

/** Subtract the adapters' deltas again (undo {@link mergeAdapters}). */
export function unmergeAdapters(config: DecoderConfig, weights: Weights, adapters: Adapter[]): void {
  for (const a of adapters) apply(config, weights, a, -1);
}
