/**
 * @module The `train` side of coresets, for the CLI/API to wire in:
 * `--data-indices S.json` trains on the rows a `coreset` run selected ({@link selectRows}), and
 * `--coreset colm --coreset-ratio r` selects each step's rows from the drawn batch with CoLM
 * ({@link colmHooks}, a {@link TrainerHooks} for the Trainer; the drawn batch is
 * `batch-size · grad-accum` rows, the trained one round(r ×) that).
 */
import { z } from "zod";
import type { Row } from "../data/rows.ts";
import type { Example } from "../data/tokenize.ts";
import type { DecoderConfig } from "../models/config.ts";
import type { Backend } from "../runtime/session.ts";
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

/** The selection file written by `coreset`: 0-based row indices into the data file, and their scores. */
export const SelectionFileSchema = z.object({
  indices: z.array(z.number().int().nonnegative()),
  scores: z.array(z.number()).optional(),
});

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
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(`${path}: cannot read the selection (${(e as Error).message.split("\n")[0]})`);
  }
  const r = SelectionFileSchema.safeParse(raw);
  if (!r.success) {
    throw new Error(
      `${path}: not a selection file: ${r.error.issues[0].path.join(".")} ${r.error.issues[0].message}`,
    );
  }
  const seen = new Set<number>();
  for (const i of r.data.indices) {
    if (i >= n) throw new Error(`${path}: index ${i} is out of range for ${n} rows`);
    if (seen.has(i)) throw new Error(`${path}: index ${i} is listed twice`);
    seen.add(i);
  }
  if (seen.size === 0) throw new Error(`${path}: the selection is empty`);
  return r.data.indices;
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

/** Write `{"indices":[…], "scores":[…]}` (the `coreset` command's output). */
export async function writeSelection(
  path: string,
  sel: Selection,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await Deno.writeTextFile(
    path,
    JSON.stringify({ indices: sel.indices, scores: sel.scores, ...extra }) + "\n",
  );
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
 * source `sources[i]` (small sources are judged over all of them). Release the selector after training.
 *
 * @example
 * ```ts ignore
 * const { hooks, selector } = colmHooks(model.config, examples, rowSources(rows), { ratio: 0.5 }, "node");
 * const trainer = new Trainer(model.config, model.weights, examples, { batchSize: 16 }, "node", {}, hooks);
 * await trainer.run();
 * await selector.release();
 * ```
 */
export function colmHooks(
  config: DecoderConfig,
  examples: readonly Example[],
  sources: readonly (string | undefined)[],
  o: ColmOptions = {},
  backend: Backend = "wasm",
): { hooks: TrainerHooks; selector: ColmSelector } {
  if (sources.length !== examples.length) {
    throw new Error(`colmHooks: ${examples.length} examples but ${sources.length} sources`);
  }
  const sourceOf = new Map(examples.map((e, i) => [e, sources[i]]));
  const selector = new ColmSelector(config, sources, o, backend);
  const hooks: TrainerHooks = {
    selectBatch: async (candidates, { weights }) => {
      const sel = await selector.select(weights, candidates, candidates.map((e) => sourceOf.get(e)));
      return sel.indices.map((i) => candidates[i]);
    },
  };
  return { hooks, selector };
}
