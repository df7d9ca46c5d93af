/**
 * @module `coreset`: select k training rows and write `{"indices":[…], "scores":[…]}` (0-based row
 * indices into `--data`, best first, with their scores). `--method cld` scores rows by the
 * correlation of their loss differences with the validation rows' along a short fine-tuning run
 * (src/coreset/cld.ts); `--method colm` picks k rows whose Adam-normalized zeroth-order gradients
 * cover the data's by facility location, keeping every row of small sources (src/coreset/colm.ts;
 * the scores are the facility-location weights; kept small-source rows count against k but are
 * all returned, even past k). Rows' `source` fields are the classes/sources.
 */
import { z } from "zod";
import { readJsonl, type Row } from "../data/rows.ts";
import { encodeRows, type Example, loadTokenizer, type Tok } from "../data/tokenize.ts";
import type { LoadedModel } from "../models/load.ts";
import { cldSelect } from "../coreset/cld.ts";
import { ColmSelector } from "../coreset/colm.ts";
import { rowSources, writeSelection } from "../coreset/train_hooks.ts";
import { CommonFlags, loadModelWithAdapters, parseFlags, progress } from "./common.ts";

/** Flags of `coreset`. */
export const CoresetFlags = CommonFlags.extend({
  model: z.string().describe("HF model dir, or 'default'"),
  data: z.string().describe("JSONL candidate rows (an optional `source` field groups them)"),
  val: z.string().optional().describe("JSONL validation rows (required by cld)"),
  k: z.number().int().positive().describe("rows to select"),
  method: z.enum(["cld", "colm"]).describe("cld | colm"),
  out: z.string().describe("output selection .json"),
  seed: z.number().int().nonnegative().default(0).describe("seed: proxy data order (cld), directions (colm)"),
  lr: z.number().positive().max(1).default(1e-3).describe("cld: proxy learning rate (constant)"),
  batchSize: z.number().int().positive().max(4096).default(8).describe("cld: proxy rows per step"),
  epochs: z.number().int().positive().max(1000).default(2).describe("cld: proxy epochs"),
  evalsPerEpoch: z.number().int().positive().max(100).default(3).describe("cld: loss checkpoints per epoch"),
  budget: z.enum(["global", "proportional"]).default("global").describe(
    "cld: top-k over all rows, or per source in proportion to its size (the paper's per-class top-k)",
  ),
  eps: z.number().positive().default(1e-3).describe("colm: zeroth-order perturbation ε"),
  directions: z.number().int().positive().max(64).default(1).describe("colm: random directions per estimate"),
  zoDim: z.number().int().positive().default(2560).describe("colm: feature dimensions kept"),
  keepSources: z.string().optional().describe("colm: comma-separated sources kept whole"),
  smallFraction: z.number().min(0).max(1).default(0.05).describe(
    "colm: without --keep-sources, sources under this fraction of the rows are kept whole",
  ),
  similarity: z.enum(["cosine", "l1"]).default("cosine").describe("colm: facility-location similarity"),
});

async function encodeFile(
  m: LoadedModel,
  path: string,
  truncate: boolean,
  tok: () => Promise<Tok | undefined>,
) {
  const rows: Row[] = await readJsonl(path);
  if (rows.length === 0) throw new Error(`${path}: no rows`);
  const needsTok = rows.some((r) => !("input_ids" in r));
  const examples: Example[] = encodeRows(rows, {
    tokenizer: needsTok ? await tok() : undefined,
    maxLength: m.config.maxPositions,
    truncate,
    vocabSize: m.config.vocabSize,
  });
  return { rows, examples };
}

/** Run `coreset`; returns the stdout JSON. */
export async function coresetCommand(argv: string[]): Promise<{ k: number; rows: number }> {
  const f = parseFlags(CoresetFlags, argv);
  if (f.method === "cld" && !f.val) throw new Error("--val: required by --method cld");
  const m = await loadModelWithAdapters(f.model, f.adapter);
  let tokP: Promise<Tok> | undefined;
  const tok = () => m.hasTokenizer ? (tokP ??= loadTokenizer(m.dir)) : Promise.resolve(undefined);
  const data = await encodeFile(m, f.data, f.truncate, tok);
  const n = data.examples.length, sources = rowSources(data.rows);
  if (f.k > n) throw new Error(`--k: ${f.k} is more than the ${n} rows of ${f.data}`);
  const t0 = performance.now();
  let sel;
  if (f.method === "cld") {
    const val = await encodeFile(m, f.val!, f.truncate, tok);
    progress(
      `coreset cld: ${n} rows, ${val.examples.length} val rows, ${f.epochs} epochs × ${f.evalsPerEpoch} checkpoints`,
    );
    sel = await cldSelect(m.config, m.weights, data.examples, val.examples, f.k, {
      ...f,
      backend: f.backend,
      trainSources: sources,
      valSources: rowSources(val.rows),
      onCheckpoint: (e, of) =>
        progress(`checkpoint ${e}/${of} (${((performance.now() - t0) / 1000).toFixed(0)} s)`),
    });
  } else {
    const P = (m.config.kvHeads * m.config.headDim || m.config.hidden) * m.config.hidden;
    if (n * P > 1e8) {
      throw new Error(
        `--method colm: ${n} rows × ${P} features is too large for one selection; ` +
          "use train --coreset colm (per-batch selection) instead",
      );
    }
    progress(`coreset colm: ${n} rows, ${f.directions} direction(s), 2×${f.directions} forward passes`);
    const selector = new ColmSelector(m.config, sources, {
      ...f,
      keepSources: f.keepSources?.split(",").map((s) => s.trim()).filter(Boolean),
    }, f.backend);
    try {
      sel = await selector.select(m.weights, data.examples, sources, f.k);
    } finally {
      await selector.release();
    }
  }
  await writeSelection(f.out, sel, { method: f.method });
  progress(
    `selected ${sel.indices.length} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${f.out}`,
  );
  return { k: sel.indices.length, rows: n };
}
