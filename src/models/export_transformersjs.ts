/**
 * @module Export a model dir as a transformers.js causal-LM folder: `config.json` (HF config plus
 * token ids and `transformers.js_config`), `generation_config.json`, the tokenizer files and
 * `onnx/model.onnx`, the KV-cached forward graph with the weights baked in as initializers. The
 * folder is built in a temp sibling dir and moved into place, so a failed export leaves nothing.
 */
import { basename, dirname, join, resolve } from "../io/path.ts";
import { type FileInfo, isNotFound, readText, storage } from "../io/storage.ts";
import { lowerGraph } from "../graph/lower.ts";
import { toHfConfig } from "./config.ts";
import { loadModel } from "./load.ts";
import { buildCachedForward, paramSpecs } from "./model.ts";

/** Options of {@link exportTransformersJs}. */
export interface ExportOptions {
  /** Weights by HF name replacing those of the model dir (e.g. fine-tuned or LoRA-merged). */
  weights?: Map<string, Float32Array>;
}

const MODEL_FILE = "onnx/model.onnx";
const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];
/** A protobuf message (the whole .onnx file without external data) must stay below 2 GiB. */
const MAX_ONNX_BYTES = 2 ** 31 - 1;
/** transformers.js knows these model types by another name. */
const MODEL_TYPE_ALIASES: Record<string, string> = { smollm: "llama" };

type Json = Record<string, unknown>;

async function readJson(path: string): Promise<Json | undefined> {
  try {
    return JSON.parse(await readText(path));
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

async function statOrNull(path: string): Promise<FileInfo | null> {
  return (await storage().stat(path)) ?? null;
}

/**
 * bos/eos/pad token ids from a model dir's tokenizer files: the tokens named in
 * `tokenizer_config.json` (or `special_tokens_map.json`), looked up in `tokenizer.json`; bos and
 * eos fall back to `<|endoftext|>`, pad to eos. Ids that cannot be resolved are left out.
 */
export async function specialTokenIds(dir: string): Promise<{ bos?: number; eos?: number; pad?: number }> {
  const tok = await readJson(join(dir, "tokenizer.json"));
  if (!tok) return {};
  const cfg = await readJson(join(dir, "tokenizer_config.json")) ?? {};
  const map = await readJson(join(dir, "special_tokens_map.json")) ?? {};
  const added = (tok.added_tokens ?? []) as { id: number; content: string }[];
  const vocab = (tok.model as Json | undefined)?.vocab;
  const idOf = (t: unknown): number | undefined => {
    const s = typeof t === "string" ? t : (t as { content?: unknown } | null)?.content;
    if (typeof s !== "string") return undefined;
    const a = added.find((x) => x.content === s);
    if (a) return a.id;
    if (Array.isArray(vocab)) { // Unigram: [[piece, score], …]
      const i = vocab.findIndex((v) => Array.isArray(v) && v[0] === s);
      return i < 0 ? undefined : i;
    }
    const v = (vocab as Json | undefined)?.[s];
    return typeof v === "number" ? v : undefined;
  };
  const named = (key: string) => idOf(cfg[key] ?? map[key]);
  const eot = idOf("<|endoftext|>");
  const eos = named("eos_token") ?? eot;
  return { bos: named("bos_token") ?? eot, eos, pad: named("pad_token") ?? eos };
}

/** Move the finished files of `tmp` into `out` (a new dir: one rename; an existing one: file by file). */
async function moveIntoPlace(tmp: string, out: string, files: string[]): Promise<void> {
  const fs = storage(), stat = await statOrNull(out);
  if (stat === null) return await fs.rename(tmp, out);
  if (!stat.isDirectory) throw new Error(`${out} exists and is not a directory`);
  // The model first and config.json last, so a reader never sees a new config with an old model.
  const order = (f: string) => (f === MODEL_FILE ? 0 : f === "config.json" ? 2 : 1);
  for (const f of [...files].sort((a, b) => order(a) - order(b))) {
    await fs.mkdir(dirname(join(out, f)));
    await fs.rename(join(tmp, f), join(out, f));
  }
  for (const f of TOKENIZER_FILES) {
    if (!files.includes(f)) await fs.remove(join(out, f)).catch(() => {});
  }
}

/**
 * Write `modelDir` (an HF dir: config.json + safetensors, tokenizer files) as a folder that
 * transformers.js loads with `AutoModelForCausalLM.from_pretrained(outDir, { dtype: "fp32" })`.
 * The ONNX graph has inputs `input_ids`, `attention_mask`, `position_ids`,
 * `past_key_values.N.key/value` and outputs `logits`, `present.N.key/value`. An existing `outDir`
 * gets its files replaced. Returns the written files, relative to `outDir`.
 *
 * @example
 * ```ts ignore
 * const { files } = await exportTransformersJs("./my-llama", "./my-llama-web");
 * // files: ["config.json", "generation_config.json", "onnx/model.onnx", "tokenizer.json", …]
 * const { AutoModelForCausalLM } = await import("npm:@huggingface/transformers@4.3.1");
 * const model = await AutoModelForCausalLM.from_pretrained(resolve("./my-llama-web"), {
 *   local_files_only: true,
 *   dtype: "fp32",
 * });
 * ```
 */
export async function exportTransformersJs(
  modelDir: string,
  outDir: string,
  opts: ExportOptions = {},
): Promise<{ files: string[] }> {
  if (resolve(modelDir) === resolve(outDir)) {
    throw new Error(`export: output dir must differ from ${modelDir}`);
  }
  const tmp = join(dirname(outDir), `${basename(outDir)}.tmp-${crypto.randomUUID().slice(0, 8)}`);
  const fs = storage();
  await fs.mkdir(dirname(outDir));
  await fs.mkdir(join(tmp, "onnx"));
  try {
    const m = await loadModel(modelDir);
    const weights = new Map(m.weights);
    const specs = new Map(paramSpecs(m.config).map((s) => [s.name, s.shape]));
    for (const [name, w] of opts.weights ?? []) {
      const shape = specs.get(name);
      if (!shape) throw new Error(`export: override weight ${name} is not a parameter of ${modelDir}`);
      const n = shape.reduce((a, b) => a * b, 1);
      if (w.length !== n) {
        throw new Error(`export: override weight ${name} has ${w.length} values, want [${shape}]`);
      }
      weights.set(name, w);
    }
    const bytes = [...weights.values()].reduce((s, w) => s + w.byteLength, 0);
    if (bytes > MAX_ONNX_BYTES) {
      throw new Error(`export: ${bytes} bytes of float32 weights exceed the 2 GiB limit of one ONNX file`);
    }

    const files: string[] = [];
    const write = async (f: string, data: Uint8Array | string) => {
      await fs.write(join(tmp, f), data);
      files.push(f);
    };
    const ids = await specialTokenIds(modelDir);
    const gen: Json = {
      ...(ids.bos !== undefined && { bos_token_id: ids.bos }),
      ...(ids.eos !== undefined && { eos_token_id: ids.eos }),
      ...(ids.pad !== undefined && { pad_token_id: ids.pad }),
      ...await readJson(join(modelDir, "generation_config.json")),
    };
    const hf = toHfConfig(m.config);
    hf.model_type = MODEL_TYPE_ALIASES[m.config.modelType] ?? hf.model_type;
    const config = {
      ...m.rawConfig, // fields the HF config carries beyond what the graph needs
      ...hf,
      ...Object.fromEntries(["bos_token_id", "eos_token_id", "pad_token_id"].map((k) => [k, gen[k]])),
      use_cache: true,
      "transformers.js_config": { dtype: "fp32" },
    };
    await write("config.json", JSON.stringify(config, null, 2) + "\n");
    await write("generation_config.json", JSON.stringify(gen, null, 2) + "\n");
    await write(
      MODEL_FILE,
      lowerGraph(buildCachedForward(m.config).outputs, { initializers: weights }).bytes,
    );
    for (const f of TOKENIZER_FILES) {
      if (!(await statOrNull(join(modelDir, f)))?.isFile) continue;
      await fs.copy(join(modelDir, f), join(tmp, f));
      files.push(f);
    }
    await moveIntoPlace(tmp, outDir, files);
    return { files };
  } finally {
    await fs.remove(tmp, { recursive: true }).catch(() => {});
  }
}
