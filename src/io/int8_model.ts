/**
 * @module INT8 model files, for shipping a model where bytes are scarce (a Workers bundle: 10 MB
 * compressed). {@link quantizeModelFile} turns an F32 `model.safetensors` into a safetensors file of
 * group-quantized codes (the Q-GaLore scheme of `linalg/quant.ts`, round to nearest, 8 bits, groups of
 * 64: x ≈ (q − z)·s); small tensors (norms, biases) stay F32. {@link Int8ModelStorage} serves such a
 * file back as the F32 `model.safetensors` it stands for, dequantizing each tensor only when it is read,
 * so a loader streaming weights into a lean device never holds the F32 model twice.
 */
import { dequantize, quantize } from "../linalg/quant.ts";
import { parseWithMetadata, serializeSafetensors, type StTensor, toFloat32 } from "./safetensors.ts";
import { keyOf, MemoryStorage, type RandomAccessFile } from "./storage.ts";

/** Elements per quantization group. */
export const INT8_GROUP = 64;
/** Tensors with fewer elements stay F32 (norm weights: their bytes do not matter, their precision does). */
const MIN_NUMEL = 4096;
const FORMAT = "posttrain-int8";

/**
 * An F32 (or F16/BF16) safetensors file as INT8 codes + per-group scales and zero points.
 *
 * @example
 * ```ts ignore
 * const small = quantizeModelFile(await Deno.readFile("models/default/model.safetensors"));
 * ```
 */
export function quantizeModelFile(bytes: Uint8Array, groupSize = INT8_GROUP): Uint8Array {
  const tensors = parseWithMetadata(bytes, "model.safetensors").tensors;
  const out: Record<string, { dtype: "F32" | "U8"; shape: number[]; data: Float32Array | Uint8Array }> = {};
  for (const [name, t] of tensors) {
    const x = toFloat32(t);
    if (x.length < MIN_NUMEL) {
      out[name] = { dtype: "F32", shape: t.shape, data: x };
      continue;
    }
    const q = quantize(x, { bits: 8, groupSize });
    out[name] = { dtype: "U8", shape: t.shape, data: q.data };
    out[`${name}.__scales`] = { dtype: "F32", shape: [q.scales.length], data: q.scales };
    out[`${name}.__zeros`] = { dtype: "U8", shape: [q.zeros.length], data: q.zeros };
  }
  return serializeSafetensors(out, { format: FORMAT, group_size: String(groupSize) });
}

/** The F32 values an INT8 file holds for one tensor. */
function valuesOf(tensors: Map<string, StTensor>, name: string, groupSize: number): Float32Array {
  const t = tensors.get(name)!;
  if (t.dtype === "F32") return toFloat32(t);
  const scales = toFloat32(tensors.get(`${name}.__scales`)!);
  const zeros = tensors.get(`${name}.__zeros`)!.data;
  return dequantize({ bits: 8, groupSize, length: t.data.length, data: t.data, scales, zeros });
}

/**
 * The F32 safetensors file an INT8 file stands for, read tensor by tensor.
 *
 * @example
 * ```ts ignore
 * const f = dequantizedFile(int8Bytes);
 * const header = await f.read(0, new Uint8Array(8));
 * ```
 */
export function dequantizedFile(int8: Uint8Array, path = "model.safetensors"): RandomAccessFile {
  const { tensors, metadata } = parseWithMetadata(int8, path);
  if (metadata.format !== FORMAT) {
    throw new Error(`${path}: not an INT8 model file (format ${metadata.format})`);
  }
  const groupSize = Number(metadata.group_size);
  const names = [...tensors.keys()].filter((n) => !/\.__(scales|zeros)$/.test(n)).sort();
  // the layout serializeSafetensors gives these tensors as F32: sorted by name, header space-padded to 8
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  const spans: [string, number, number][] = [];
  let total = 0;
  for (const n of names) {
    const t = tensors.get(n)!, bytes = t.shape.reduce((a, b) => a * b, 1) * 4;
    header[n] = { dtype: "F32", shape: t.shape, data_offsets: [total, total + bytes] };
    spans.push([n, total, total + bytes]);
    total += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const hlen = Math.ceil(json.length / 8) * 8, start = 8 + hlen;
  const head = new Uint8Array(start).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(hlen), true);
  head.set(json, 8);
  let cached: [string, Uint8Array] | undefined;
  const bytesOf = (n: string) => {
    if (cached?.[0] !== n) {
      const v = valuesOf(tensors, n, groupSize);
      cached = [n, new Uint8Array(v.buffer, v.byteOffset, v.byteLength)];
    }
    return cached[1];
  };
  return {
    size: start + total,
    read: (pos, dst) => {
      const end = pos + dst.length;
      if (end > start + total) return Promise.reject(new Error(`${path}: unexpected end of file`));
      if (pos < start) dst.set(head.subarray(pos, Math.min(start, end)));
      for (const [n, lo, hi] of spans) {
        const a = Math.max(pos, start + lo), b = Math.min(end, start + hi);
        if (a < b) dst.set(bytesOf(n).subarray(a - start - lo, b - start - lo), a - pos);
      }
      return Promise.resolve(dst);
    },
    close: () => {},
  };
}

/**
 * A model dir held in memory whose weights ship as INT8: `model.safetensors` reads as F32 (see
 * {@link dequantizedFile}); the other files (config, tokenizer) as given.
 *
 * @example
 * ```ts ignore
 * setStorage(new MountStorage({ "models/default": new Int8ModelStorage(files, int8Bytes), "": other }));
 * ```
 */
export class Int8ModelStorage extends MemoryStorage {
  readonly #int8: Uint8Array;
  readonly #size: number;

  constructor(files: Record<string, Uint8Array | string>, int8: Uint8Array) {
    super(files);
    this.#int8 = int8;
    this.#size = dequantizedFile(int8).size;
  }

  #isModel(path: string): boolean {
    return keyOf(path) === "model.safetensors";
  }

  override async read(path: string): Promise<Uint8Array> {
    if (!this.#isModel(path)) return await super.read(path);
    return await dequantizedFile(this.#int8).read(0, new Uint8Array(this.#size));
  }

  override async open(path: string): Promise<RandomAccessFile> {
    return this.#isModel(path) ? dequantizedFile(this.#int8) : await super.open(path);
  }

  override async stat(path: string) {
    if (this.#isModel(path)) return { isFile: true, isDirectory: false, size: this.#size };
    return await super.stat(path);
  }

  override async list(dir: string) {
    const entries = await super.list(dir);
    if (keyOf(dir) === "") entries.push({ name: "model.safetensors", isFile: true, isDirectory: false });
    return entries;
  }

  override write(path: string, data: Uint8Array | string): Promise<void> {
    if (this.#isModel(path)) return Promise.reject(new Error(`${path}: the bundled model is read-only`));
    return super.write(path, data);
  }
}
