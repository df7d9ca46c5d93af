/**
 * @module LoRA fine-tuning setup: adapter hook, fresh adapter weights (PEFT init) added beside the
 * frozen base weights, and writing the trained adapter in PEFT layout.
 */
import type { DecoderConfig } from "../models/config.ts";
import { paramSpecs } from "../models/model.ts";
import { initParams, type LinearAdapter } from "../models/params.ts";
import type { QuantizedSource, Weights } from "../models/weights.ts";
import { isLoraParam, loraAdapter, type LoraConfig, LoraConfigSchema } from "./lora.ts";
import { saveAdapter } from "./peft.ts";
import { lowRankTargets } from "../optim/lowrank.ts";
import { fedBytes, quantizedSource, QuantizedWeights, type QuantSpec } from "../optim/int8_weights.ts";
import { type LoadedModel, loadModelFor } from "../models/load.ts";
import type { Backend } from "../runtime/backend.ts";

/**
 * PEFT's default targets per model type (`TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`); PEFT has
 * none for Phi-3, whose fused attention projection `qkv_proj` we take (as PEFT's codegen entry).
 */
export function defaultTargets(config: DecoderConfig): string[] {
  return config.arch === "gpt2" ? ["c_attn"] : config.fused ? ["qkv_proj"] : ["q_proj", "v_proj"];
}

/**
 * QLoRA-style frozen base: the attention/MLP weights in `bits` (groups of 64 at 4 bits, 256 at 8) and
 * the token embedding (with a tied head) in INT8 groups of 256.
 */
export function quantizedBase(config: DecoderConfig, bits: 4 | 8): Map<string, QuantSpec> {
  const specs = new Map<string, QuantSpec>(
    lowRankTargets(config).map((t) => [t.name, { bits, groupSize: bits === 4 ? 64 : 256 }]),
  );
  const embed = paramSpecs(config).find((s) => /(^|\.)(embed_tokens|wte)\.weight$/.test(s.name));
  if (embed) specs.set(embed.name, { bits: 8, groupSize: 256 });
  return specs;
}

/** A LoRA run: the trainable model for `Trainer` and a writer for the result. */
export interface LoraSetup {
  config: LoraConfig;
  /** What the trainer needs: only the adapter weights train, through the adapter hook (and, over a
   * quantized base, the quantized source the graph reads it through). */
  model: {
    trainable: (name: string) => boolean;
    adapter: LinearAdapter;
    int8?: { source: QuantizedSource; groupSize: number };
  };
  /** The weights to train with: the given map, or a quantized store of it for a quantized base. */
  weights: Weights;
  /** Adapter parameter names and shapes. */
  shapes: Map<string, number[]>;
  save(dir: string, weights: Weights, baseModel: string): Promise<void>;
}

/** Values quantized per step while a quantized base loads on lean (a multiple of every group size). */
const LOAD_CHUNK = 1 << 16;

/**
 * A model dir loaded for LoRA over a quantized base ({@link quantizedBase}). On `lean` each base weight is
 * read and quantized a chunk of {@link LOAD_CHUNK} values at a time through one small scratch in the
 * device's memory, its codes written in place there, so neither a float copy of a weight nor a host copy of
 * its codes ever exists (a 135M model's 113 MB embedding costs 256 KB of scratch); elsewhere each weight is
 * read whole and quantized. The other weights (norms) load on the host. `model.weights` holds those;
 * `base` holds them too, with the codes.
 *
 * @example
 * ```ts ignore
 * const { model, base } = await loadQuantizedBase("models/default", "lean", 8);
 * const lora = setupLora(model.config, model.weights, { rank: 8 }, 0, base);
 * ```
 */
export async function loadQuantizedBase(
  dir: string,
  backend: Backend,
  bits: 4 | 8,
): Promise<{ model: LoadedModel; base: QuantizedWeights }> {
  const base = new QuantizedWeights();
  const device = backend === "lean"
    ? await (await import("../runtime/lean/program.ts")).sharedDevice()
    : undefined;
  let specs: Map<string, QuantSpec> | undefined;
  let scratch: { block: { offset: number; bytes: number }; view: Float32Array } | undefined;
  const model = await loadModelFor(dir, backend, {
    // the other weights (norms) on the host: the trainer moves them to the device on its first step
    place: (n) => new Float32Array(n),
    take: async (name, numel, read, config) => {
      specs ??= quantizedBase(config, bits);
      const q = specs.get(name);
      if (!q) return false;
      if (!device) {
        const w = new Float32Array(numel);
        await read(0, w);
        base.store(name, w, q.groupSize, 0, false, q.bits);
        return true;
      }
      // a chunk of whole groups at a time through one small float scratch, codes written in place
      scratch ??= ((block) => ({ block, view: device.f32(block.offset, LOAD_CHUNK) }))(
        device.alloc(4 * LOAD_CHUNK),
      );
      const groups = Math.ceil(numel / q.groupSize);
      const codes = {
        bits: q.bits,
        groupSize: q.groupSize,
        length: numel,
        data: device.uint8(fedBytes(numel, q.groupSize, q.bits), 4),
        scales: device.float32(groups),
        zeros: device.uint8(groups),
      };
      const step = Math.floor(LOAD_CHUNK / q.groupSize) * q.groupSize;
      for (let off = 0; off < numel; off += step) {
        const x = scratch.view.subarray(0, Math.min(step, numel - off));
        await read(off, x);
        device.quantizeInto(x, {
          ...codes,
          data: codes.data.subarray((off * q.bits) / 8),
          scales: codes.scales.subarray(off / q.groupSize),
          zeros: codes.zeros.subarray(off / q.groupSize),
        });
      }
      base.codes.set(name, codes);
      return true;
    },
  });
  if (device && scratch) device.free(scratch.block);
  for (const [k, v] of model.weights) base.set(k, v);
  return { model, base };
}

/**
 * Add fresh adapter weights (A Kaiming-uniform, B zero) to `weights` and return the setup. Over a
 * quantized base (`base`): 4 or 8 quantizes the base weights of `weights` here ({@link quantizedBase}); a
 * store from {@link loadQuantizedBase} is used as it is, the adapter added to it. Train `setup.weights`.
 *
 * @example
 * ```ts ignore
 * const lora = setupLora(model.config, model.weights, { rank: 8, targets: ["q_proj", "v_proj"] });
 * const trainer = new Trainer(model.config, model.weights, examples, opts, "wasm", lora.model);
 * ```
 */
export function setupLora(
  config: DecoderConfig,
  weights: Weights,
  cfg: Partial<LoraConfig>,
  seed = 0,
  base?: 4 | 8 | QuantizedWeights,
): LoraSetup {
  const lc = LoraConfigSchema.parse({ ...cfg, targets: cfg.targets ?? defaultTargets(config) });
  const specs = paramSpecs(config, loraAdapter(lc)).filter((s) => isLoraParam(s.name));
  if (specs.length === 0) {
    throw new Error(`--targets: ${lc.targets.join(",")} match no linear layer of this ${config.arch} model`);
  }
  const shapes = new Map(specs.map((s) => [s.name, s.shape]));
  const model: LoraSetup["model"] = { trainable: isLoraParam, adapter: loraAdapter(lc, { train: true }) };
  let trained = weights;
  if (base instanceof QuantizedWeights) {
    // quantized as it was loaded (loadQuantizedBase): the adapter goes beside the codes
    for (const [k, v] of initParams(specs, seed)) base.set(k, v);
    const quant = new Map([...base.codes].map(([n, q]) => [n, { bits: q.bits, groupSize: q.groupSize }]));
    model.int8 = { source: quantizedSource(quant), groupSize: 0 };
    trained = base;
  } else for (const [k, v] of initParams(specs, seed)) weights.set(k, v);
  if (typeof base === "number") {
    const baseBits = base;
    const specs = quantizedBase(config, baseBits);
    const qw = new QuantizedWeights(weights);
    for (const [n, q] of specs) {
      qw.store(n, weights.get(n)!, q.groupSize, 0, false, q.bits);
      weights.delete(n);
    }
    model.int8 = { source: quantizedSource(specs), groupSize: 0 };
    trained = qw;
  }
  return {
    config: lc,
    model,
    weights: trained,
    shapes,
    save: (dir, w, base) =>
      saveAdapter(
        dir,
        lc,
        new Map(specs.map((s) => [s.name, w.get(s.name)!])),
        shapes,
        base,
        config.arch === "gpt2",
      ),
  };
}
