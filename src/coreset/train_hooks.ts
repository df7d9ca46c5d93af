/**
 * @module The `train` side of coresets (wired into `train`, `finetune` and fine-tune jobs via
 * `prepareFinetune`): `--data-indices S.json` trains on the rows a `coreset` run selected
 * ({@link resolveIndices}), and `--coreset colm --coreset-ratio r` selects each step's rows from the
 * drawn batch with CoLM ({@link colmHooks}, a {@link TrainerHooks} for the Trainer; the drawn batch
 * is `batch-size · grad-accum` rows, the trained one round(r ×) that). CoLM's Adam feature moments
 * travel in checkpoints as hook state, so a resumed run follows the uninterrupted one exactly.
 */
import { z } from "npm:zod@4.6.7";
import { readText, storage } from "../io/storage.ts";
import type { Row } from "../data/rows.ts";
import type { Example } from "../data/example.ts";
import type { DecoderConfig } from "../models/config.ts";
import { type Backend, DEFAULT_BACKEND } from "../runtime/backend.ts";
import type { TrainerHooks } from "../train/trainer.ts";
import type { Selection } from "./cld.ts";
import { type ColmOptions, ColmSelector } from "./colm.ts";

/** Coreset flags of `train` (merge into its flag schema with `.extend(CoresetTrainFlags.shape)`). */
export const CoresetTrainFlags = z.object({
  coreset: z.enum(["colm"]).optional().describe("per-step mini-batch coreset: colm (CoLM, ICLR 2025)"),
  coresetRatio: z.number().gt(0).max(1).default(0.5).describe(
    "fraction of each drawn batch (batch-size × grad-accum rows) that is trained on (CoLM default 0.5)",
  ),
  dataIndices: z.string().optional().describe('train only on these rows: a coreset JSON {"indices": […]}'),
});

/** The library's coreset options of `finetune`: as {@link CoresetTrainFlags}, indices also given inline. */
export const CoresetTrainOptionsSchema = CoresetTrainFlags.extend({
  dataIndices: z.union([z.string().min(1), z.array(z.number().int().nonnegative()).min(1)]).optional()
    .describe(
      'train only on these rows of the data: 0-based row indices, or the path of a selection file {"indices": […]}',
    ),
});

/** Coreset options of `finetune` (see {@link CoresetTrainOptionsSchema}). */
export interface CoresetTrainOptions {
  /** Per-step mini-batch coreset: "colm" (CoLM); default none. */
  coreset?: "colm";
  /** Fraction of each drawn batch (batchSize × gradAccum rows) trained on (default 0.5). */
  coresetRatio?: number;
  /** Train only on these rows: 0-based indices, or a selection file `{"indices": […]}` (the `coreset` output). */
  dataIndices?: string | readonly number[];
}

/** The selection file written by `coreset`: 0-based row indices into the data file, and their scores. */
export const SelectionFileSchema = z.object({
  indices: z.array(z.number().int().nonnegative()),
  scores: z.array(z.number()).optional(),
});

/**
 * What is wrong with row indices into `n` rows (out of range, repeated, none), and at which
 * position of the list; undefined when nothing is.
 *
 * @example
 * ```ts
 * indexProblem([0, 5], 3); // { at: 1, message: "index 5 is out of range for 3 rows" }
 * ```
 */
export function indexProblem(
  indices: readonly number[],
  n: number,
): { at: number; message: string } | undefined {
  if (indices.length === 0) return { at: 0, message: "the selection is empty" };
  const seen = new Set<number>();
  for (const [at, i] of indices.entries()) {
    if (!Number.isInteger(i) || i < 0) return { at, message: `index ${i} is not a non-negative integer` };
    if (i >= n) return { at, message: `index ${i} is out of range for ${n} rows` };
    if (seen.has(i)) return { at, message: `index ${i} is listed twice` };
    seen.add(i);
  }
  return undefined;
}

/**
 * Read a selection file and check its indices against `n` rows (in range, no repeats).
 *
 * @example
 * ```ts ignore
 * const idx = await readIndices("S.json", rows.length); // [12, 3, …]
 * ```
 */
export async function readIndices(path: string, n: number): Promise<number[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readText(path));
  } catch (e) {
    throw new Error(`${path}: cannot read the selection (${(e as Error).message.split("\n")[0]})`);
  }
  const r = SelectionFileSchema.safeParse(raw);
  if (!r.success) {
    throw new Error(
      `${path}: not a selection file: ${r.error.issues[0].path.join(".")} ${r.error.issues[0].message}`,
    );
  }
  const p = indexProblem(r.data.indices, n);
  if (p) throw new Error(`${path}: ${p.message}`);
  return r.data.indices;
}

/**
 * Row indices from a selection file path or a list, checked against `n` rows; errors name the file,
 * or `dataIndices[i]` for a list.
 *
 * @example
 * ```ts
 * await resolveIndices([2, 0], 3); // [2, 0]
 * ```
 */
export async function resolveIndices(indices: string | readonly number[], n: number): Promise<number[]> {
  if (typeof indices === "string") return await readIndices(indices, n);
  const p = indexProblem(indices, n);
  if (p) throw new Error(`dataIndices[${p.at}]: ${p.message}`);
  return [...indices];
}

/**
 * The items (rows or examples) a selection file names, in the file's order.
 *
 * @example
 * ```ts ignore
 * const rows = await selectRows(await readJsonl("train.jsonl"), "S.json");
 * ```
 */
export async function selectRows<T>(items: readonly T[], indicesFile: string): Promise<T[]> {
  return (await readIndices(indicesFile, items.length)).map((i) => items[i]);
}

/**
 * Write `{"indices":[…], "scores":[…]}` (the `coreset` command's output) through a temp sibling
 * and a rename, so a crash never leaves half a file.
 *
 * @example
 * ```ts ignore
 * await writeSelection("S.json", { indices: [4, 1], scores: [1, 0.5] }, { method: "colm" });
 * ```
 */
export async function writeSelection(
  path: string,
  sel: Selection,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await storage().write(path, JSON.stringify({ indices: sel.indices, scores: sel.scores, ...extra }) + "\n");
}

/**
 * The `source` field of each row (undefined when absent or not a string).
 *
 * @example
 * ```ts
 * rowSources([{ text: "a", source: "qa" }, { text: "b" }]); // ["qa", undefined]
 * ```
 */
export function rowSources(rows: readonly Row[]): (string | undefined)[] {
  return rows.map((r) => typeof r.source === "string" ? r.source : undefined);
}

/**
 * Trainer hooks that train each step on CoLM's coreset of the drawn batch. `examples[i]` has
 * source `sources[i]` (small sources are judged over all of them). The hooks carry the selector's
 * Adam feature moments into checkpoints (exact resume) and free its session on `Trainer.release()`.
 *
 * @example
 * ```ts ignore
 * const { hooks } = colmHooks(model.config, examples, rowSources(rows), { ratio: 0.5 }, "node");
 * const trainer = new Trainer(model.config, model.weights, examples, { batchSize: 16 }, "node", {}, hooks);
 * await trainer.run();
 * await trainer.release(); // releases the selector too
 * ```
 */
export function colmHooks(
  config: DecoderConfig,
  examples: readonly Example[],
  sources: readonly (string | undefined)[],
  o: ColmOptions = {},
  backend: Backend = DEFAULT_BACKEND,
): { hooks: TrainerHooks; selector: ColmSelector } {
  if (sources.length !== examples.length) {
    throw new Error(`colmHooks: ${examples.length} examples but ${sources.length} sources`);
  }
  const sourceOf = new Map(examples.map((e, i) => [e, sources[i]]));
  const selector = new ColmSelector(config, sources, o, backend);
  const st = selector.state;
  const hooks: TrainerHooks = {
    selectBatch: async (candidates, { weights }) => {
      const sel = await selector.select(weights, candidates, candidates.map((e) => sourceOf.get(e)));
      return sel.indices.map((i) => candidates[i]);
    },
    state: () => ({ tensors: { m: st.m, v: st.v }, meta: { method: "colm", t: String(st.t) } }),
    loadState: ({ tensors, meta }) => {
      const { m, v } = tensors;
      if (meta.method !== "colm" || !m || !v || m.length !== st.m.length || v.length !== st.v.length) {
        throw new Error(
          `CoLM state: expected moments of ${st.m.length} features, found ${meta.method ?? "?"} state ` +
            `of ${m?.length ?? 0} (a checkpoint of another model or method)`,
        );
      }
      st.m.set(m), st.v.set(v), st.t = Number(meta.t);
    },
    release: () => selector.release(),
  };
  return { hooks, selector };
}
