/**
 * @module What the service tells about a model dir without loading its weights: the family
 * (`model_type` of config.json), the parameter count and the storage dtypes, read from the
 * safetensors headers (one file, or every shard of an index).
 */
import { join } from "../io/path.ts";
import { readText } from "../io/storage.ts";
import { numel, openSafetensors } from "../io/safetensors.ts";

/** A model's family, size and dtype. */
export interface ModelInfo {
  /** `model_type` of config.json (llama, gpt2, qwen2, …). */
  family: string;
  /** Parameters stored in the weights files. */
  parameters: number;
  /** Storage dtype, e.g. "F32" (several joined by "+" when the tensors differ). */
  dtype: string;
}

async function shards(dir: string): Promise<string[]> {
  try {
    const index = JSON.parse(await readText(join(dir, "model.safetensors.index.json")));
    return [...new Set(Object.values(index.weight_map as Record<string, string>))].map((f) => join(dir, f));
  } catch {
    return [join(dir, "model.safetensors")];
  }
}

/**
 * Family, parameter count and dtype of a model dir (headers only; no weight is read).
 *
 * @example
 * ```ts ignore
 * await modelInfo("models/default"); // { family: "llama", parameters: 5770752, dtype: "F32" }
 * ```
 */
export async function modelInfo(dir: string): Promise<ModelInfo> {
  const config = JSON.parse(await readText(join(dir, "config.json")));
  let parameters = 0;
  const dtypes = new Set<string>();
  for (const path of await shards(dir)) {
    const f = await openSafetensors(path);
    try {
      for (const t of f.tensors.values()) {
        parameters += numel(t.shape);
        dtypes.add(t.dtype);
      }
    } finally {
      f.close();
    }
  }
  return { family: String(config.model_type ?? "unknown"), parameters, dtype: [...dtypes].sort().join("+") };
}
