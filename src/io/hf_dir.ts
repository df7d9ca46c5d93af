// Hugging Face model directories: config.json + model.safetensors, or sharded weights with
// model.safetensors.index.json. Saving builds a temp sibling dir and moves it into place.

import { basename, dirname, join } from "./path.ts";
import {
  type LazyTensor,
  openSafetensors,
  readSafetensors,
  type StTensor,
  type StTensorInput,
  writeSafetensors,
} from "./safetensors.ts";
import { exists, isNotFound, readText, storage } from "./storage.ts";

/** A loaded model directory. */
export interface ModelDir {
  config: Record<string, unknown>;
  weights: Map<string, StTensor>;
  dir: string;
  hasTokenizer: boolean;
}

/** Options for {@link saveModelDir}. */
export interface SaveOptions {
  /** Split weights into shards of at most this many bytes (a larger single tensor gets its own shard). */
  maxShardBytes?: number;
  /** Directory to copy tokenizer / generation config files from, when present there. */
  copyFrom?: string;
}

const SINGLE = "model.safetensors";
const INDEX = "model.safetensors.index.json";
const SHARD_RE = /^model-\d{5}-of-\d{5}\.safetensors$/;
const EXTRA_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "generation_config.json",
];
const DEFAULT_SHARD = 5_000_000_000;

async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readText(path);
  } catch (e) {
    if (isNotFound(e)) throw new Error(`${path} not found`);
    throw e;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: invalid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${path}: not a JSON object`);
  return v as Record<string, unknown>;
}

async function loadSharded(dir: string): Promise<Map<string, StTensor>> {
  const indexPath = join(dir, INDEX);
  const map = (await readJsonObject(indexPath)).weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new Error(`${indexPath}: missing "weight_map" object`);
  }
  const entries = Object.entries(map as Record<string, unknown>);
  const shards = new Map<string, Map<string, StTensor>>();
  for (const [name, file] of entries) {
    if (typeof file !== "string" || !file || /[\\/]/.test(file) || file.includes("..")) {
      throw new Error(`${indexPath}: tensor "${name}" has invalid shard file name ${JSON.stringify(file)}`);
    }
    if (!shards.has(file)) shards.set(file, new Map());
  }
  for (const file of shards.keys()) {
    const path = join(dir, file);
    if (!(await exists(path))) throw new Error(`${indexPath}: shard ${file} not found in ${dir}`);
    shards.set(file, (await readSafetensors(path)).tensors);
  }
  const weights = new Map<string, StTensor>();
  for (const [name, file] of entries as [string, string][]) {
    const t = shards.get(file)!.get(name);
    if (!t) throw new Error(`${indexPath}: tensor "${name}" is mapped to ${file} but is not in that shard`);
    weights.set(name, t);
  }
  return weights;
}

/**
 * The weights of an HF model directory (single file or sharded) opened without reading their data:
 * each tensor is read on demand (see `openSafetensors`). Call `close` when done.
 *
 * @example
 * ```ts ignore
 * const { tensors, close } = await openModelWeights("./my-model");
 * const bytes = await tensors.get("model.norm.weight")!.read();
 * close();
 * ```
 */
export async function openModelWeights(
  dir: string,
): Promise<{ tensors: Map<string, LazyTensor>; close(): void }> {
  const files: { close(): void }[] = [];
  const close = () => files.forEach((f) => f.close());
  try {
    if (await exists(join(dir, SINGLE))) {
      const f = await openSafetensors(join(dir, SINGLE));
      files.push(f);
      return { tensors: f.tensors, close };
    }
    if (!(await exists(join(dir, INDEX)))) throw new Error(`${dir}: no ${SINGLE} or ${INDEX} found`);
    const indexPath = join(dir, INDEX);
    const map = (await readJsonObject(indexPath)).weight_map;
    if (typeof map !== "object" || map === null || Array.isArray(map)) {
      throw new Error(`${indexPath}: missing "weight_map" object`);
    }
    const shards = new Map<string, Map<string, LazyTensor>>(), tensors = new Map<string, LazyTensor>();
    for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
      if (typeof file !== "string" || !file || /[\\/]/.test(file) || file.includes("..")) {
        throw new Error(`${indexPath}: tensor "${name}" has invalid shard file name ${JSON.stringify(file)}`);
      }
      if (!shards.has(file)) {
        const f = await openSafetensors(join(dir, file));
        files.push(f);
        shards.set(file, f.tensors);
      }
      const t = shards.get(file)!.get(name);
      if (!t) throw new Error(`${indexPath}: tensor "${name}" is mapped to ${file} but is not in that shard`);
      tensors.set(name, t);
    }
    return { tensors, close };
  } catch (e) {
    close();
    throw e;
  }
}

/**
 * Loads config.json and the safetensors weights (single file or sharded) of an HF model directory.
 * @example
 * const { config, weights, hasTokenizer } = await loadModelDir("./gpt2");
 * console.log(config.n_layer, weights.get("wte.weight")?.shape, hasTokenizer);
 */
export async function loadModelDir(dir: string): Promise<ModelDir> {
  const config = await readJsonObject(join(dir, "config.json"));
  let weights: Map<string, StTensor>;
  if (await exists(join(dir, SINGLE))) weights = (await readSafetensors(join(dir, SINGLE))).tensors;
  else if (await exists(join(dir, INDEX))) weights = await loadSharded(dir);
  else throw new Error(`${dir}: no ${SINGLE} or ${INDEX} found`);
  return { config, weights, dir, hasTokenizer: await exists(join(dir, "tokenizer.json")) };
}

/** Greedily groups tensor names (in order) into shards of at most `max` bytes. */
function planShards(tensors: Map<string, StTensorInput>, max: number): string[][] {
  const shards: string[][] = [];
  let cur: string[] = [], size = 0;
  for (const [name, t] of tensors) {
    const n = t.data.byteLength;
    if (cur.length > 0 && size + n > max) {
      shards.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(name);
    size += n;
  }
  if (cur.length > 0 || shards.length === 0) shards.push(cur);
  return shards;
}

/** Writes all files of the model dir into `out` and returns their names. */
async function writeAll(
  out: string,
  config: Record<string, unknown>,
  tensors: Map<string, StTensorInput>,
  opts: SaveOptions,
): Promise<string[]> {
  const written = ["config.json"];
  await storage().write(join(out, "config.json"), JSON.stringify(config, null, 2) + "\n");
  const plan = planShards(tensors, opts.maxShardBytes ?? DEFAULT_SHARD);
  const pick = (names: string[]) => Object.fromEntries(names.map((n) => [n, tensors.get(n)!]));
  if (plan.length === 1) {
    await writeSafetensors(join(out, SINGLE), pick(plan[0]), { format: "pt" });
    written.push(SINGLE);
  } else {
    const pad = (i: number) => String(i).padStart(5, "0");
    const weightMap: Record<string, string> = {};
    let total = 0;
    for (const [i, names] of plan.entries()) {
      const file = `model-${pad(i + 1)}-of-${pad(plan.length)}.safetensors`;
      await writeSafetensors(join(out, file), pick(names), { format: "pt" });
      written.push(file);
      for (const n of names) {
        weightMap[n] = file;
        total += tensors.get(n)!.data.byteLength;
      }
    }
    const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : 1)));
    const index = { metadata: { total_size: total }, weight_map: sorted };
    await storage().write(join(out, INDEX), JSON.stringify(index, null, 2) + "\n");
    written.push(INDEX);
  }
  for (const f of opts.copyFrom === undefined ? [] : EXTRA_FILES) {
    const src = join(opts.copyFrom!, f);
    if (!(await exists(src))) continue;
    await storage().copy(src, join(out, f));
    written.push(f);
  }
  return written;
}

/**
 * Saves config + weights as an HF model dir (single file, or shards + index when over `maxShardBytes`).
 * Files are built in a temp sibling dir first; a new `dir` is created by one rename, an existing one gets
 * its files replaced (stale weight files from an earlier save are removed). The temp dir never survives.
 * @example
 * const m = await loadModelDir("./gpt2");
 * await saveModelDir("./gpt2-tuned", m.config, m.weights, { copyFrom: "./gpt2" });
 */
export async function saveModelDir(
  dir: string,
  config: Record<string, unknown>,
  tensors: Record<string, StTensorInput> | Map<string, StTensorInput>,
  opts: SaveOptions = {},
): Promise<void> {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const tmp = join(dirname(dir), `${basename(dir)}.tmp-${crypto.randomUUID().slice(0, 8)}`);
  const fs = storage();
  await fs.mkdir(dirname(dir));
  await fs.mkdir(tmp);
  try {
    const written = await writeAll(tmp, config, map, opts);
    const stat = await fs.stat(dir);
    if (stat === undefined) return await fs.rename(tmp, dir);
    if (!stat.isDirectory) throw new Error(`saveModelDir: ${dir} exists and is not a directory`);
    // Weights first, index next, config last; then drop weight files this save did not write.
    const order = (f: string) => (f === "config.json" ? 2 : f === INDEX ? 1 : 0);
    for (const f of written.sort((a, b) => order(a) - order(b))) {
      await fs.rename(join(tmp, f), join(dir, f));
    }
    for (const e of await fs.list(dir)) {
      const stale = e.name === SINGLE || e.name === INDEX || SHARD_RE.test(e.name);
      if (e.isFile && stale && !written.includes(e.name)) await fs.remove(join(dir, e.name));
    }
  } finally {
    await fs.remove(tmp, { recursive: true }).catch(() => {});
  }
}
