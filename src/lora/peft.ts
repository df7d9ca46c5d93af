/**
 * @module PEFT adapter files (huggingface/peft): `adapter_config.json` (peft_type LORA, r,
 * lora_alpha, target_modules, rank_pattern, alpha_pattern, …) and `adapter_model.safetensors`
 * with `base_model.model.<module>.lora_A.weight` [r, in] and `…lora_B.weight` [out, r].
 * Written atomically (temp dir, then rename).
 */
import { basename, dirname, join } from "../io/path.ts";
import { readSafetensors, serializeSafetensors, toFloat32 } from "../io/safetensors.ts";
import { isNotFound, readText, storage } from "../io/storage.ts";
import { type LoraConfig, LoraConfigSchema } from "./lora.ts";

/** A loaded adapter: its config and weights by PEFT key. */
export interface Adapter {
  config: LoraConfig;
  weights: Map<string, Float32Array>;
  shapes: Map<string, number[]>;
  baseModel: string;
}

/** The adapter_config.json object of `cfg`. */
export function peftConfig(
  cfg: LoraConfig,
  baseModel: string,
  fanInFanOut: boolean,
): Record<string, unknown> {
  return {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: baseModel,
    r: cfg.rank,
    lora_alpha: cfg.alpha,
    lora_dropout: cfg.dropout,
    use_rslora: cfg.rslora,
    target_modules: cfg.targets,
    rank_pattern: cfg.rankPattern,
    alpha_pattern: cfg.alphaPattern,
    bias: "none",
    fan_in_fan_out: fanInFanOut,
    inference_mode: true,
    init_lora_weights: true,
    modules_to_save: null,
  };
}

/**
 * Write an adapter dir.
 *
 * @example
 * ```ts ignore
 * await saveAdapter("./adapter", cfg, weights, shapes, "models/default", false);
 * ```
 */
export async function saveAdapter(
  dir: string,
  cfg: LoraConfig,
  weights: Map<string, Float32Array>,
  shapes: Map<string, number[]>,
  baseModel: string,
  fanInFanOut: boolean,
): Promise<void> {
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${crypto.randomUUID().slice(0, 8)}`);
  const fs = storage();
  try {
    await fs.mkdir(tmp);
    const tensors = Object.fromEntries(
      [...weights].map(([k, v]) => [k, { dtype: "F32" as const, shape: shapes.get(k)!, data: v }]),
    );
    await fs.write(
      join(tmp, "adapter_model.safetensors"),
      serializeSafetensors(tensors, { format: "pt" }),
    );
    await fs.write(
      join(tmp, "adapter_config.json"),
      JSON.stringify(peftConfig(cfg, baseModel, fanInFanOut), null, 2) + "\n",
    );
    await fs.remove(dir, { recursive: true }).catch(() => {});
    await fs.rename(tmp, dir);
  } catch (e) {
    await fs.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** Read an adapter dir; errors name the file and field. */
export async function loadAdapter(dir: string): Promise<Adapter> {
  const path = join(dir, "adapter_config.json");
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readText(path));
  } catch (e) {
    throw new Error(`${path}: ${isNotFound(e) ? "not found" : (e as Error).message}`);
  }
  if (raw.peft_type !== "LORA") {
    throw new Error(`${path}: peft_type must be "LORA", got ${JSON.stringify(raw.peft_type)}`);
  }
  const parsed = LoraConfigSchema.safeParse({
    rank: raw.r,
    alpha: raw.lora_alpha,
    dropout: raw.lora_dropout ?? 0,
    rslora: raw.use_rslora ?? false,
    targets: typeof raw.target_modules === "string" ? [raw.target_modules] : raw.target_modules,
    rankPattern: raw.rank_pattern ?? {},
    alphaPattern: raw.alpha_pattern ?? {},
  });
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new Error(`${path}: ${i.path.join(".")}: ${i.message}`);
  }
  const { tensors } = await readSafetensors(join(dir, "adapter_model.safetensors"));
  const weights = new Map<string, Float32Array>(), shapes = new Map<string, number[]>();
  for (const [k, t] of tensors) {
    if (!/\.lora_[AB]\.weight$/.test(k)) {
      throw new Error(`${dir}: unexpected tensor ${k} in adapter_model.safetensors`);
    }
    weights.set(k, toFloat32(t).slice());
    shapes.set(k, t.shape);
  }
  return { config: parsed.data, weights, shapes, baseModel: String(raw.base_model_name_or_path ?? "") };
}
