/**
 * @module Coreset selection as one call, shared by the `coreset` CLI and `coreset` HTTP jobs: the
 * options (one zod schema, every field described; the CLI's flags, HTTP's snake_case fields), the
 * checks that name the bad field, and {@link selectCoreset}, which runs CLD (cld.ts: loss
 * trajectories of a short proxy run, correlation with the validation rows' loss differences, top-k)
 * or CoLM (colm.ts: Adam-normalized last-layer gradient features, facility location, small sources
 * kept whole) over all candidate rows at once.
 */
import { z } from "npm:zod@4.6.7";
import type { Example } from "../data/example.ts";
import type { DecoderConfig } from "../models/config.ts";
import type { Weights } from "../models/weights.ts";
import type { Backend } from "../runtime/backend.ts";
import { cldSelect, type Selection } from "./cld.ts";
import { ColmSelector } from "./colm.ts";

/** Coreset methods. */
export const CORESET_METHODS = ["cld", "colm"] as const;
/** A coreset method. */
export type CoresetMethod = typeof CORESET_METHODS[number];

/** Options of a coreset selection (camelCase; the CLI's `--kebab-case` flags). */
export const CoresetOptionsSchema = z.object({
  seed: z.number().int().nonnegative().default(0).describe("seed: proxy data order (cld), directions (colm)"),
  lr: z.number().positive().max(1).default(1e-3).describe("cld: proxy learning rate (constant)"),
  batchSize: z.number().int().positive().max(4096).default(8).describe("cld: proxy rows per step"),
  epochs: z.number().int().positive().max(1000).default(2).describe("cld: proxy epochs"),
  evalsPerEpoch: z.number().int().positive().max(1000).default(16).describe(
    "cld: loss checkpoints per epoch (align row needs ≳ 30 loss differences in all)",
  ),
  align: z.enum(["row", "class"]).default("row").describe(
    "cld: correlate with each validation row of the row's source and keep the best (row), or with the source's mean validation loss (class, the paper's)",
  ),
  budget: z.enum(["matched", "global", "proportional"]).default("matched").describe(
    "cld: an equal share of k per curve the rows were scored by (align row: per validation row; the paper's top-k per class), top-k over all rows, or per source in proportion to its size",
  ),
  feature: z.enum(["grad", "zo"]).default("grad").describe(
    "colm: per-row feature: the exact gradient of the last value projection (grad) or the paper's zeroth-order estimate (zo)",
  ),
  eps: z.number().positive().default(1e-3).describe("colm: zeroth-order perturbation ε"),
  directions: z.number().int().positive().max(64).default(1).describe("colm: random directions per estimate"),
  zoDim: z.number().int().positive().default(2560).describe("colm: feature dimensions kept"),
  keepSources: z.string().optional().describe("colm: comma-separated sources kept whole"),
  smallFraction: z.number().min(0).max(1).default(0.05).describe(
    "colm: without keepSources, sources under this fraction of the rows are kept whole",
  ),
  similarity: z.enum(["cosine", "l1"]).default("cosine").describe("colm: facility-location similarity"),
});
/** Parsed coreset options. */
export type CoresetOptions = z.infer<typeof CoresetOptionsSchema>;

/** Most row × feature entries one CoLM selection over all rows may hold (≈ 400 MB of f32). */
export const COLM_MAX_ENTRIES = 1e8;

/**
 * What stops a selection before it starts, naming the field (`val`, `k`, `data`); undefined if nothing.
 *
 * @example
 * ```ts ignore
 * coresetProblem("cld", model.config, 12, 13, true); // { field: "k", message: "13 is more than the 12 rows" }
 * ```
 */
export function coresetProblem(
  method: CoresetMethod,
  config: DecoderConfig,
  rows: number,
  k: number,
  hasVal: boolean,
): { field: "val" | "k" | "data"; message: string } | undefined {
  if (method === "cld" && !hasVal) return { field: "val", message: "required by method cld" };
  if (k > rows) return { field: "k", message: `${k} is more than the ${rows} rows` };
  const P = (config.kvHeads * config.headDim || config.hidden) * config.hidden;
  if (method === "colm" && rows * P > COLM_MAX_ENTRIES) {
    return {
      field: "data",
      message: `${rows} rows × ${P} features is too large for one CoLM selection; ` +
        "train with coreset colm (per-batch selection) instead",
    };
  }
  return undefined;
}

/** Sources kept whole: a comma-separated string or a list. */
function sourceList(s?: string | readonly string[]): string[] | undefined {
  if (s === undefined) return undefined;
  return (typeof s === "string" ? s.split(",") : [...s]).map((x) => x.trim()).filter(Boolean);
}

/** What {@link selectCoreset} needs. */
export interface CoresetRequest {
  method: CoresetMethod;
  config: DecoderConfig;
  weights: Weights;
  /** Candidate rows and their sources (`source` fields; undefined: none). */
  data: Example[];
  sources: (string | undefined)[];
  /** Validation rows and their sources (cld). */
  val?: Example[];
  valSources?: (string | undefined)[];
  k: number;
  options: Omit<CoresetOptions, "keepSources"> & { keepSources?: string | readonly string[] };
  backend?: Backend;
  /** Progress: `done` of `of` units (cld: loss checkpoints; colm: one selection). */
  onProgress?: (done: number, of: number) => void;
}

/**
 * Select `k` of the candidate rows with CLD or CoLM: 0-based indices (best first) and scores (CLD:
 * the correlation score; CoLM: facility-location weights, kept small-source rows first with 1; those
 * count against k but are all returned, even past k).
 *
 * @example
 * ```ts ignore
 * const sel = await selectCoreset({
 *   method: "cld", config: m.config, weights: m.weights, data, sources, val, valSources, k: 30,
 *   options: CoresetOptionsSchema.parse({ epochs: 1 }), backend: "node",
 * });
 * ```
 */
export async function selectCoreset(r: CoresetRequest): Promise<Selection> {
  const p = coresetProblem(r.method, r.config, r.data.length, r.k, r.val !== undefined);
  if (p) throw new Error(`${p.field}: ${p.message}`);
  const o = r.options;
  if (r.method === "cld") {
    const sel = await cldSelect(r.config, r.weights, r.data, r.val!, r.k, {
      ...o,
      backend: r.backend,
      trainSources: r.sources,
      valSources: r.valSources ?? r.val!.map(() => undefined),
      onCheckpoint: r.onProgress,
    });
    return { indices: sel.indices, scores: sel.scores };
  }
  const selector = new ColmSelector(
    r.config,
    r.sources,
    { ...o, keepSources: sourceList(o.keepSources) },
    r.backend,
  );
  try {
    r.onProgress?.(0, 1);
    const sel = await selector.select(r.weights, r.data, r.sources, r.k);
    r.onProgress?.(1, 1);
    return sel;
  } finally {
    await selector.release();
  }
}
