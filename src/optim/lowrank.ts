/**
 * @module Which weights get a low-rank gradient projector, and building them: GaLore's selection
 * (torchrun_main.py: linear layers whose module name contains "attn" or "mlp"; GPT-2's Conv1D
 * included, which the official code would miss), everything else stays plain AdamW.
 */
import type { DecoderConfig } from "../models/config.ts";
import { paramSpecs } from "../models/model.ts";
import type { Projector } from "./projector.ts";

/** Names and stored shapes [m, n] of the weights GaLore-style methods project. */
export function lowRankTargets(
  config: DecoderConfig,
  targets?: string[],
): { name: string; shape: [number, number] }[] {
  return paramSpecs(config)
    .filter((s) => s.shape.length === 2 && s.name.endsWith(".weight"))
    .filter((s) => {
      const module = s.name.slice(0, -".weight".length);
      return targets?.length
        ? targets.some((t) => module === t || module.endsWith(`.${t}`))
        : /(^|\.)(attn|self_attn|mlp)\./.test(module);
    })
    .map((s) => ({ name: s.name, shape: [s.shape[0], s.shape[1]] as [number, number] }));
}

/** One projector per targeted weight from a factory. */
export function buildProjectors(
  config: DecoderConfig,
  make: (m: number, n: number, name: string) => Projector,
  targets?: string[],
): Map<string, Projector> {
  const t = lowRankTargets(config, targets);
  if (t.length === 0) throw new Error(`--targets: ${targets?.join(",")} match no linear layer`);
  return new Map(t.map(({ name, shape: [m, n] }) => [name, make(m, n, name)]));
}
