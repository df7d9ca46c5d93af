/**
 * @module Sensitivity-LoRA rank allocation (Zhang et al., EMNLP Findings 2025, arXiv:2509.09119): per target
 * matrix W, a diagonal Hessian D (Hutchinson, or the cheaper Gauss-Newton/Fisher diagonal) on a small
 * calibration set; global sensitivity = tr(D) (Σ|D|); local = Top-k concentration of |D| (share of the largest
 * κ·mn entries) or its effective rank; score = normalized global × normalized local; ranks ∝ score under the
 * total budget, clipped to [min, max] (bisection on the constant), rounded by largest remainder to the exact
 * budget. No published code: every uncertain choice is an option, defaults in the schema (algorithms.md §5.2);
 * the GNB diagonal on 8 calibration rows by default (README "Fine-tuning methods" compares the estimators).
 */
import { z } from "npm:zod@4.6.7";
import type { Example } from "../data/example.ts";
import type { DecoderConfig } from "../models/config.ts";
import { paramSpecs } from "../models/model.ts";
import type { Weights } from "../models/weights.ts";
import { ModelRunner } from "../models/runner.ts";
import { makeBatch } from "../data/batch.ts";
import { type Backend, DEFAULT_BACKEND } from "../runtime/backend.ts";
import { gnbDiagonal, hutchinson } from "../curvature/hutchinson.ts";
import { isTarget, type LoraConfig } from "./lora.ts";

/** Options of the sensitivity pass. */
export const SensitivityOptionsSchema = z.object({
  estimator: z.enum(["gnb", "hutchinson"]).default("gnb")
    .describe(
      "Hessian diagonal: Gauss-Newton-Bartlett (model-sampled labels, one backward pass per batch; default: as good as Hutchinson's allocation at a tenth of the cost, README) or Hutchinson HVP probes",
    ),
  probes: z.number().int().positive().max(256).default(2).describe("Hutchinson probes per calibration batch"),
  calibrationRows: z.number().int().positive().default(8).describe(
    "rows of the training data used to calibrate (default one batch: the pass stays under 10 % of a 60-step fine-tune)",
  ),
  batchSize: z.number().int().positive().default(8).describe("calibration rows per batch"),
  local: z.enum(["topk", "erank", "none"]).default("topk").describe("local sensitivity metric"),
  topk: z.number().gt(0).max(1).default(0.01).describe("κ: share of entries in the Top-k concentration"),
  minRank: z.number().int().positive().default(1).describe("smallest rank a target matrix gets"),
  maxRank: z.number().int().positive().optional().describe("largest rank (default: 4× the mean rank)"),
  seed: z.number().int().nonnegative().default(0).describe("probe seed"),
});
/** Parsed sensitivity options. */
export type SensitivityOptions = z.infer<typeof SensitivityOptionsSchema>;

/**
 * Integer ranks ∝ `scores` that sum exactly to `budget`, each in [min, max] (clipped proportional
 * shares, then largest remainder; ties by module order).
 *
 * @example
 * ```ts
 * allocateRanks(new Map([["a", 3], ["b", 1]]), 8, 1, 8); // a → 6, b → 2
 * ```
 */
export function allocateRanks(
  scores: Map<string, number>,
  budget: number,
  min: number,
  max: number,
): Map<string, number> {
  const names = [...scores.keys()], n = names.length;
  if (n * min > budget || n * max < budget) {
    throw new Error(`--rank-budget ${budget}: must lie in [${n * min}, ${n * max}] for ${n} target matrices`);
  }
  // ideal_k = clip(λ·s_k, min, max) with λ found by bisection so Σ ideal = budget (monotone in λ)
  const s = names.map((k) => Math.max(scores.get(k)!, 1e-30));
  const fill = (lam: number) => s.map((x) => Math.min(max, Math.max(min, lam * x)));
  let lo = 0, hi = 1;
  while (fill(hi).reduce((a, b) => a + b, 0) < budget) hi *= 2;
  for (let it = 0; it < 200; it++) {
    const mid = (lo + hi) / 2;
    if (fill(mid).reduce((a, b) => a + b, 0) < budget) lo = mid;
    else hi = mid;
  }
  const ideal = new Map(names.map((k, i) => [k, fill(hi)[i]]));
  const ranks = new Map(names.map((k) => [k, Math.floor(ideal.get(k)!)]));
  let rest = budget - [...ranks.values()].reduce((a, b) => a + b, 0);
  const order = names.map((k, i) => ({ k, i, frac: ideal.get(k)! - Math.floor(ideal.get(k)!) }))
    .sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { k } of order) {
    if (rest === 0) break;
    if (ranks.get(k)! < max) ranks.set(k, ranks.get(k)! + 1), rest--;
  }
  return ranks;
}

/** Share of Σ|D| held by its largest ⌈κ·n⌉ entries. */
export function topkConcentration(d: Float32Array, kappa: number): number {
  const a = Float32Array.from(d, Math.abs).sort().reverse();
  const k = Math.max(1, Math.ceil(kappa * a.length));
  let top = 0, all = 0;
  a.forEach((x, i) => ((all += x), i < k && (top += x)));
  return all > 0 ? top / all : 0;
}

/** Effective rank exp(H(σ/Σσ)) of |D| (m×n) from the eigenvalues of |D||D|ᵀ (cyclic Jacobi). */
export function effectiveRank(d: Float32Array, m: number, n: number): number {
  const g = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = i; j < m; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += Math.abs(d[i * n + k]) * Math.abs(d[j * n + k]);
      g[i * m + j] = g[j * m + i] = s;
    }
  }
  for (let sweep = 0; sweep < 30; sweep++) {
    let off = 0;
    for (let p = 0; p < m; p++) for (let q = p + 1; q < m; q++) off += g[p * m + q] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < m; p++) {
      for (let q = p + 1; q < m; q++) {
        const apq = g[p * m + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (g[q * m + q] - g[p * m + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < m; k++) {
          const gkp = g[k * m + p], gkq = g[k * m + q];
          g[k * m + p] = c * gkp - s * gkq;
          g[k * m + q] = s * gkp + c * gkq;
        }
        for (let k = 0; k < m; k++) {
          const gpk = g[p * m + k], gqk = g[q * m + k];
          g[p * m + k] = c * gpk - s * gqk;
          g[q * m + k] = s * gpk + c * gqk;
        }
      }
    }
  }
  const sv = Array.from({ length: m }, (_, i) => Math.sqrt(Math.max(0, g[i * m + i])));
  const total = sv.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  return Math.exp(-sv.reduce((h, s) => (s > 0 ? h + (s / total) * Math.log(s / total) : h), 0));
}

/** Result of the sensitivity pass. */
export interface SensitivityResult {
  ranks: Map<string, number>;
  global: Map<string, number>;
  local: Map<string, number>;
  score: Map<string, number>;
  seconds: number;
}

/**
 * Allocate `budget` ranks over the LoRA target matrices by Hessian sensitivity; the ranks go
 * into the LoRA config's `rankPattern` (full module paths).
 */
export async function sensitivityRanks(
  config: DecoderConfig,
  weights: Weights,
  examples: Example[],
  lora: Pick<LoraConfig, "targets">,
  budget: number,
  opts: Partial<SensitivityOptions> = {},
  backend: Backend = DEFAULT_BACKEND,
): Promise<SensitivityResult> {
  const o = SensitivityOptionsSchema.parse(opts);
  const t0 = performance.now();
  const specs = paramSpecs(config).filter((s) => s.shape.length === 2 && s.name.endsWith(".weight"));
  const modules = specs.map((s) => s.name.slice(0, -".weight".length)).filter((m) =>
    isTarget({ ...lora } as LoraConfig, m)
  );
  if (modules.length === 0) throw new Error(`--targets: ${lora.targets.join(",")} match no linear layer`);
  const names = modules.map((m) => `${m}.weight`);
  const calib = examples.slice(0, o.calibrationRows);
  let diag: Map<string, Float32Array>;
  if (o.estimator === "hutchinson") {
    diag = (await hutchinson(config, weights, calib, names, {
      probes: o.probes,
      batchSize: o.batchSize,
      seed: o.seed,
      backend,
    })).diag;
  } else {
    const runner = new ModelRunner(config, backend, (n) => names.includes(n));
    diag = new Map(names.map((n) => [n, new Float32Array(weights.get(n)!.length)]));
    for (let i = 0; i < calib.length; i += o.batchSize) {
      const est = await gnbDiagonal(runner, weights, makeBatch(calib.slice(i, i + o.batchSize)), o.seed + i);
      for (const [n, d] of est) diag.get(n)!.forEach((_, j, a) => (a[j] += d[j]));
    }
    await runner.release();
  }
  const global = new Map<string, number>(), local = new Map<string, number>();
  for (const [i, m] of modules.entries()) {
    const d = diag.get(names[i])!, [r, c] = specs.find((s) => s.name === names[i])!.shape;
    global.set(m, d.reduce((s, x) => s + Math.abs(x), 0));
    local.set(
      m,
      o.local === "topk" ? topkConcentration(d, o.topk) : o.local === "erank" ? effectiveRank(d, r, c) : 1,
    );
  }
  const mean = (xs: Map<string, number>) => [...xs.values()].reduce((a, b) => a + b, 0) / xs.size || 1;
  const mg = mean(global), ml = mean(local);
  const score = new Map(modules.map((m) => [m, (global.get(m)! / mg) * (local.get(m)! / ml)]));
  const maxRank = o.maxRank ?? Math.max(o.minRank, Math.ceil((4 * budget) / modules.length));
  const ranks = allocateRanks(score, budget, o.minRank, maxRank);
  return { ranks, global, local, score, seconds: (performance.now() - t0) / 1000 };
}
