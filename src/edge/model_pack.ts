/**
 * @module A model dir as one blob (a Workers data module): each file is a U8 tensor of a safetensors
 * container named after the file, read back without copying. The weights are `model.safetensors` (F32)
 * or `model.int8.safetensors` (INT8, see `io/int8_model.ts`, served back as F32 `model.safetensors`).
 */
import { Int8ModelStorage } from "../io/int8_model.ts";
import { parseWithMetadata, serializeSafetensors } from "../io/safetensors.ts";
import { MemoryStorage, type Storage } from "../io/storage.ts";

/** The INT8 weights' file name inside a pack. */
export const INT8_WEIGHTS = "model.int8.safetensors";

/**
 * Files (name → bytes) as one pack.
 *
 * @example
 * ```ts
 * const pack = packFiles({ "config.json": new TextEncoder().encode("{}") });
 * ```
 */
export function packFiles(files: Record<string, Uint8Array>): Uint8Array {
  return serializeSafetensors(
    Object.fromEntries(
      Object.entries(files).map(([n, d]) => [n, { dtype: "U8", shape: [d.length], data: d }]),
    ),
    { format: "posttrain-model-pack" },
  );
}

/**
 * The files of a pack (views into it).
 *
 * @example
 * ```ts
 * unpackFiles(packFiles({ a: new Uint8Array([1]) })).a; // Uint8Array [1]
 * ```
 */
export function unpackFiles(pack: Uint8Array): Record<string, Uint8Array> {
  const { tensors, metadata } = parseWithMetadata(pack, "model pack");
  if (metadata.format !== "posttrain-model-pack") throw new Error("not a posttrain model pack");
  return Object.fromEntries([...tensors].map(([n, t]) => [n, t.data]));
}

/**
 * A pack as a model dir storage (INT8 weights read back as F32 `model.safetensors`).
 *
 * @example
 * ```ts ignore
 * setStorage(new MountStorage({ "models/default": packStorage(bundledModel!), "": other }));
 * ```
 */
export function packStorage(pack: Uint8Array): Storage {
  const { [INT8_WEIGHTS]: int8, ...rest } = unpackFiles(pack);
  return int8 ? new Int8ModelStorage(rest, int8) : new MemoryStorage(rest);
}
