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
import { quantizedSource, QuantizedWeights, type QuantSpec } from "../optim/int8_weights.ts";
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

/**
 * A model dir loaded for LoRA over a quantized base ({@link quantizedBase}): each base weight is read into
 * one scratch array and quantized at once (on `lean` its codes go straight into the device's memory), so no
 * float copy of the quantized weights ever exists; the other weights (norms) load as `loadModelFor` loads
 * them. `model.weights` holds those; `base` holds them too, with the codes.
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
  let specs: Map<string, QuantSpec> | undefined, scratch: Float32Array = new Float32Array(0);
  let scratchBlock: { offset: number; bytes: number } | undefined;
  const start = (config: DecoderConfig) => {
    specs = quantizedBase(config, bits);
    if (!device) return;
    // every code array first, then the float scratch on top: freed after the load, its pages become the
    // bottom of what is allocated next (the arena), so the scratch costs no memory of its own
    let most = 0;
    for (const p of paramSpecs(config)) {
      const q = specs.get(p.name);
      if (!q) continue;
      const n = p.shape.reduce((a, b) => a * b, 1), groups = Math.ceil(n / q.groupSize);
      most = Math.max(most, n);
      base.codes.set(p.name, {
        bits: q.bits,
        groupSize: q.groupSize,
        length: n,
        data: device.uint8(Math.ceil((groups * q.groupSize * q.bits) / 8), 4),
        scales: device.float32(groups),
        zeros: device.uint8(groups),
      });
    }
    scratchBlock = device.alloc(4 * most);
    scratch = device.f32(scratchBlock.offset, most);
  };
  const model = await loadModelFor(dir, backend, {
    place: (n, name, config) => {
      if (!specs) start(config);
      // the other weights (norms) on the host: the trainer moves them to the device on its first step
      if (!specs!.has(name)) return new Float32Array(n);
      if (scratch.length < n) scratch = new Float32Array(n);
      return scratch.subarray(0, n);
    },
    take: (name, data) => {
      const q = specs!.get(name);
      if (!q) return false;
      const codes = base.codes.get(name);
      if (device && codes) device.quantizeInto(data, codes);
      else base.store(name, data, q.groupSize, 0, false, q.bits);
      return true;
    },
  });
  if (device && scratchBlock) device.free(scratchBlock);
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
