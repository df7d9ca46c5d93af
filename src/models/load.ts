/**
 * @module Load an HF model dir into a config + float32 weights keyed by the names the graph
 * builders use (GPT-2 keys with or without "transformer."; buffers such as `attn.bias` ignored).
 */
import { loadModelDir, openModelWeights, saveModelDir } from "../io/hf_dir.ts";
import { bf16ToF32, DTYPE_SIZE, toFloat32 } from "../io/safetensors.ts";
import { type DecoderConfig, parseConfig } from "./config.ts";
import { paramSpecs } from "./model.ts";
import type { Weights } from "./weights.ts";
import { join } from "../io/path.ts";
import { exists, readText } from "../io/storage.ts";
import type { Backend } from "../runtime/session.ts";

/**
 * Where {@link loadModel} reads each weight: `place` allocates its array (e.g. in a lean device's memory);
 * `take` may take a weight instead, reading it in pieces with `read(offset, dst)` (values from `offset`,
 * as f32 whatever the file's dtype: e.g. to quantize it a chunk at a time); a weight it takes (resolves
 * true) is not in the returned map.
 */
export interface PlaceOptions {
  place?: (numel: number, name: string, config: DecoderConfig) => Float32Array;
  take?: (
    name: string,
    numel: number,
    read: (offset: number, dst: Float32Array) => Promise<void>,
    config: DecoderConfig,
  ) => Promise<boolean>;
}

/** A model ready to run: config, weights by HF name, its dir. */
export interface LoadedModel {
  config: DecoderConfig;
  /** config.json as read (written back unchanged with fine-tuned weights). */
  rawConfig: Record<string, unknown>;
  weights: Weights;
  dir: string;
  hasTokenizer: boolean;
}

/**
 * Read `dir` (config.json + model.safetensors or a sharded index) and check every parameter the
 * architecture needs is present with the right shape.
 *
 * @example
 * ```ts ignore
 * const m = await loadModel("./my-gpt2");
 * console.log(m.config.layers, m.weights.size);
 * ```
 */
export async function loadModel(dir: string, opts: PlaceOptions = {}): Promise<LoadedModel> {
  if (opts.place) return await loadModelInto(dir, opts);
  const md = await loadModelDir(dir);
  const config = parseConfig(md.config, join(dir, "config.json"));
  if (config.arch === "gpt2" && md.weights.has("transformer.wte.weight")) config.prefix = "transformer.";
  const weights: Weights = new Map();
  for (const s of paramSpecs(config)) {
    const t = md.weights.get(s.name);
    if (!t) throw new Error(`${dir}: weight ${s.name} is missing from the safetensors files`);
    if (t.shape.join(",") !== s.shape.join(",")) {
      throw new Error(`${dir}: weight ${s.name} has shape [${t.shape}], config.json implies [${s.shape}]`);
    }
    weights.set(s.name, toFloat32(t));
  }
  return { config, rawConfig: md.config, weights, dir, hasTokenizer: md.hasTokenizer };
}

/**
 * Load a model for a backend: on `lean`, each weight is read from the file straight into the device's
 * memory (programs read it in place, and no host copy exists); elsewhere as {@link loadModel}. `opts`
 * overrides where weights go (see {@link PlaceOptions}).
 *
 * @example
 * ```ts ignore
 * const m = await loadModelFor("./my-model", "lean");
 * ```
 */
export async function loadModelFor(
  dir: string,
  backend: Backend,
  opts: PlaceOptions = {},
): Promise<LoadedModel> {
  if (backend !== "lean") {
    return await loadModel(
      dir,
      opts.take || opts.place ? { place: (n) => new Float32Array(n), ...opts } : {},
    );
  }
  const { sharedDevice } = await import("../runtime/lean/program.ts");
  const device = await sharedDevice();
  return await loadModel(dir, { place: (n) => device.float32(n), ...opts });
}

/**
 * {@link loadModel} with each weight read straight from the file into an array `opts.place` allocates
 * (e.g. in a lean device's memory), so the weights are never held twice.
 */
async function loadModelInto(dir: string, opts: PlaceOptions): Promise<LoadedModel> {
  const place = opts.place!;
  const rawConfig = JSON.parse(await readText(join(dir, "config.json")));
  const config = parseConfig(rawConfig, join(dir, "config.json"));
  const { tensors, close } = await openModelWeights(dir);
  try {
    if (config.arch === "gpt2" && tensors.has("transformer.wte.weight")) config.prefix = "transformer.";
    const weights: Weights = new Map();
    let raw = new Uint8Array(0);
    for (const s of paramSpecs(config)) {
      const t = tensors.get(s.name);
      if (!t) throw new Error(`${dir}: weight ${s.name} is missing from the safetensors files`);
      if (t.shape.join(",") !== s.shape.join(",")) {
        throw new Error(`${dir}: weight ${s.name} has shape [${t.shape}], config.json implies [${s.shape}]`);
      }
      const numel = s.shape.reduce((a, b) => a * b, 1);
      const read = async (offset: number, dst: Float32Array) => {
        const size = DTYPE_SIZE[t.dtype];
        if (t.dtype === "F32") {
          await t.readAt(4 * offset, new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength));
        } else if (t.dtype === "BF16") {
          // through one reused buffer, widened in place: a weight read in many chunks leaves no garbage
          if (raw.length < 2 * dst.length) raw = new Uint8Array(2 * dst.length);
          await t.readAt(2 * offset, raw.subarray(0, 2 * dst.length));
          bf16ToF32(new Uint16Array(raw.buffer, 0, dst.length), dst);
        } else {
          const data = await t.readAt(size * offset, new Uint8Array(size * dst.length));
          dst.set(toFloat32({ dtype: t.dtype, shape: [dst.length], data }));
        }
      };
      if (await opts.take?.(s.name, numel, read, config)) continue;
      const dst = place(numel, s.name, config);
      await read(0, dst);
      weights.set(s.name, dst);
    }
    const hasTokenizer = await exists(join(dir, "tokenizer.json"));
    return { config, rawConfig, weights, dir, hasTokenizer };
  } finally {
    close();
  }
}

/**
 * Write a loaded model with `weights` (default its own) as an HF model dir at `out`, atomically:
 * its config.json as read, the weights as F32, its tokenizer files copied.
 *
 * @example
 * ```ts ignore
 * const m = await loadModel("./base");
 * await saveModel("./copy", m);
 * ```
 */
export async function saveModel(out: string, m: LoadedModel, weights: Weights = m.weights): Promise<void> {
  const shapes = new Map(paramSpecs(m.config).map((s) => [s.name, s.shape]));
  const tensors = new Map(
    [...weights].map(([k, v]) => [k, { dtype: "F32" as const, shape: shapes.get(k)!, data: v }]),
  );
  await saveModelDir(out, m.rawConfig, tensors, { copyFrom: m.dir });
}
