/**
 * @module `coreset`: select k training rows and write `{"indices":[…], "scores":[…]}` (0-based row
 * indices into `--data`, best first, with their scores). `--method cld` scores rows by the
 * correlation of their loss differences with the validation rows' along a short fine-tuning run
 * (src/coreset/cld.ts); `--method colm` picks k rows whose Adam-normalized last-layer gradients
 * cover the data's by facility location, keeping every row of small sources (src/coreset/colm.ts;
 * the scores are the facility-location weights; kept small-source rows count against k but are
 * all returned, even past k). Rows' `source` fields are the classes/sources.
 */
import { z } from "npm:zod@4.6.7";
import { readJsonl, type Row } from "../data/rows.ts";
import { encodeRows, loadTokenizer, type Tok } from "../data/tokenize.ts";
import type { Example } from "../data/example.ts";
import type { LoadedModel } from "../models/load.ts";
import { rowSources, writeSelection } from "../coreset/train_hooks.ts";
import { CORESET_METHODS, CoresetOptionsSchema, coresetProblem, selectCoreset } from "../coreset/select.ts";
import { CommonFlags, loadModelWithAdapters, parseFlags, progress } from "./common.ts";

/** Flags of `coreset`. */
export const CoresetFlags = CommonFlags.extend({
  model: z.string().describe("HF model dir, or 'default'"),
  data: z.string().describe("JSONL candidate rows (an optional `source` field groups them)"),
  val: z.string().optional().describe("JSONL validation rows (required by cld)"),
  k: z.number().int().positive().describe("rows to select"),
  method: z.enum(CORESET_METHODS).describe("cld | colm"),
  out: z.string().describe("output selection .json"),
  ...CoresetOptionsSchema.shape,
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
  const n = data.examples.length;
  const p = coresetProblem(f.method, m.config, n, f.k, f.val !== undefined);
  if (p) throw new Error(`--${p.field}: ${p.message}${p.field === "k" ? ` of ${f.data}` : ""}`);
  const val = f.method === "cld" ? await encodeFile(m, f.val!, f.truncate, tok) : undefined;
  progress(
    f.method === "cld"
      ? `coreset cld: ${n} rows, ${
        val!.examples.length
      } val rows, ${f.epochs} epochs × ${f.evalsPerEpoch} checkpoints`
      : f.feature === "zo"
      ? `coreset colm: ${n} rows, ${f.directions} direction(s), 2×${f.directions} forward passes`
      : `coreset colm: ${n} rows, last-layer gradients (one forward pass)`,
  );
  const t0 = performance.now();
  const sel = await selectCoreset({
    method: f.method,
    config: m.config,
    weights: m.weights,
    data: data.examples,
    sources: rowSources(data.rows),
    val: val?.examples,
    valSources: val && rowSources(val.rows),
    k: f.k,
    options: f,
    backend: f.backend,
    onProgress: (e, of) => {
      if (f.method === "cld") {
        progress(`checkpoint ${e}/${of} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      }
    },
  });
  await writeSelection(f.out, sel, { method: f.method });
  progress(
    `selected ${sel.indices.length} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${f.out}`,
  );
  return { k: sel.indices.length, rows: n };
}
