// safetensors reader/writer: strict header validation, aligned layout on write, atomic file writes,
// plus f16/bf16 <-> f32 conversions (round-to-nearest-even). Assumes a little-endian host.
import { storage } from "./storage.ts";

/** Element types supported in safetensors files. */
export type StDtype = "F32" | "F16" | "BF16" | "I64" | "I32" | "U8" | "I8" | "BOOL" | "F64";

/** One tensor as stored: raw little-endian bytes (a view into the file buffer when possible). */
export interface StTensor {
  dtype: StDtype;
  shape: number[];
  data: Uint8Array;
}

/** Tensor accepted by the writer: typed array matching `dtype`, or raw bytes (Uint8Array) of any dtype. */
export interface StTensorInput {
  dtype: StDtype;
  shape: number[];
  data: Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;
}

/** Typed array class holding each dtype's values (raw Uint8Array is accepted for any dtype). */
const ARRAY_OF = {
  F64: Float64Array,
  I64: BigInt64Array,
  F32: Float32Array,
  I32: Int32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  U8: Uint8Array,
  I8: Int8Array,
  BOOL: Uint8Array,
} as const;
/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<StDtype, number>> = Object.fromEntries(
  Object.entries(ARRAY_OF).map(([k, c]) => [k, c.BYTES_PER_ELEMENT]),
) as Record<StDtype, number>;
const MAX_HEADER = 100_000_000;

/** Product of a shape's dimensions (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Throws if a top-level or nested JSON object repeats a key (JSON.parse silently keeps the last). */
function checkDuplicateKeys(text: string, fail: (msg: string) => never): void {
  const stack: (Set<string> | null)[] = [];
  let topKey = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{") stack.push(new Set());
    else if (c === "[") stack.push(null);
    else if (c === "}" || c === "]") stack.pop();
    else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === "\\") i++;
      let j = i + 1;
      while (j < text.length && " \t\r\n".includes(text[j])) j++;
      const keys = stack[stack.length - 1];
      if (text[j] !== ":" || !keys) continue;
      const key = JSON.parse(text.slice(start, i + 1)) as string;
      if (stack.length === 1) topKey = key;
      if (keys.has(key)) {
        fail(stack.length === 1 ? `duplicate key "${key}"` : `tensor "${topKey}": duplicate field "${key}"`);
      }
      keys.add(key);
    }
  }
}

const isNat = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * Parses and validates a safetensors buffer. Tensor data are views into `bytes`.
 * @param source file name used in error messages
 * @example
 * const tensors = parseSafetensors(await Deno.readFile("model.safetensors"), "model.safetensors");
 * console.log(tensors.get("wte.weight")?.shape);
 */
export function parseSafetensors(bytes: Uint8Array, source = "<buffer>"): Map<string, StTensor> {
  return parseWithMetadata(bytes, source).tensors;
}

/**
 * Parses safetensors bytes into tensors and the header's `__metadata__`.
 * @example
 * const { tensors, metadata } = parseWithMetadata(bytes, "model.safetensors");
 */
export function parseWithMetadata(
  bytes: Uint8Array,
  source: string,
): { tensors: Map<string, StTensor>; metadata: Record<string, string> } {
  const h = parseHeader(bytes, bytes.length, source);
  const tensors = new Map<string, StTensor>();
  for (const e of h.entries) {
    const data = bytes.subarray(h.dataStart + e.begin, h.dataStart + e.end);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata: h.metadata };
}

/** One tensor of a header: name, dtype, shape and its byte range in the data section. */
interface HeaderEntry {
  name: string;
  dtype: StDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Validate the header at the start of `bytes` (at least 8 + header bytes) for a file of `fileLen` bytes. */
function parseHeader(bytes: Uint8Array, fileLen: number, source: string) {
  const fail = (msg: string): never => {
    throw new Error(`safetensors ${source}: ${msg}`);
  };
  if (fileLen < 8 || bytes.length < 8) fail(`file too short (${fileLen} bytes)`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) fail(`header length ${n64} exceeds ${MAX_HEADER} bytes`);
  const n = Number(n64);
  if (8 + n > fileLen) fail(`header length ${n} larger than file (${fileLen} bytes)`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail("header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("header is not a JSON object");
  }
  checkDuplicateKeys(text, fail);
  const dataStart = 8 + n, dataLen = fileLen - dataStart;
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof v !== "object" || v === null || Array.isArray(v)) fail("__metadata__ must be an object");
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== "string") fail(`__metadata__ value for "${k}" is not a string`);
        metadata[k] = s as string;
      }
      continue;
    }
    const bad = (msg: string) => fail(`tensor "${name}": ${msg}`);
    if (typeof v !== "object" || v === null || Array.isArray(v)) bad("entry is not an object");
    const { dtype, shape, data_offsets: off } = v as Record<string, unknown>;
    if (dtype === undefined || shape === undefined || off === undefined) {
      bad("needs dtype, shape and data_offsets");
    }
    if (typeof dtype !== "string" || !(dtype in DTYPE_SIZE)) bad(`unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isNat)) bad(`invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isNat) || off[0] > off[1]) {
      bad(`invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as number[];
    const want = numel(shape as number[]) * DTYPE_SIZE[dtype as StDtype];
    if (end - begin !== want) {
      bad(`data_offsets span ${end - begin} bytes but ${dtype}${JSON.stringify(shape)} needs ${want}`);
    }
    entries.push({ name, dtype: dtype as StDtype, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0, prev = "";
  for (const e of entries) {
    if (e.begin > pos) fail(`gap in data before tensor "${e.name}" (bytes ${pos}..${e.begin} unused)`);
    if (e.begin < pos) fail(`tensor "${e.name}" overlaps tensor "${prev}" (starts at ${e.begin} < ${pos})`);
    if (e.end > dataLen) fail(`tensor "${e.name}" ends at ${e.end}, past data section (${dataLen} bytes)`);
    pos = e.end;
    prev = e.name;
  }
  if (pos !== dataLen) fail(`data section has ${dataLen} bytes but tensors cover ${pos}`);
  return { entries, metadata, dataStart };
}

/** A tensor of a file opened with {@link openSafetensors}: its data is read on demand. */
export interface LazyTensor {
  dtype: StDtype;
  shape: number[];
  /** Read the tensor's bytes into `dst` (byteLength = the tensor's), or a new array. */
  read(dst?: Uint8Array): Promise<Uint8Array>;
  /** Read `dst.byteLength` of the tensor's bytes from byte `offset` of its data into `dst`. */
  readAt(offset: number, dst: Uint8Array): Promise<Uint8Array>;
}

/**
 * Open a safetensors file and validate its header without reading the data: each tensor is read when
 * asked, into memory the caller chooses (e.g. a lean device's), so a model never sits in memory twice.
 * Close the returned file when done.
 *
 * @example
 * ```ts ignore
 * const f = await openSafetensors("model.safetensors");
 * const w = new Float32Array(4096 * 256);
 * await f.tensors.get("model.embed_tokens.weight")!.read(new Uint8Array(w.buffer));
 * f.close();
 * ```
 */
export async function openSafetensors(
  path: string,
): Promise<{ tensors: Map<string, LazyTensor>; metadata: Record<string, string>; close(): void }> {
  const file = await storage().open(path);
  try {
    const size = file.size;
    const readAt = async (pos: number, dst: Uint8Array) => {
      if (pos + dst.length > size) throw new Error(`safetensors ${path}: unexpected end of file`);
      return await file.read(pos, dst);
    };
    const lenBytes = await readAt(0, new Uint8Array(Math.min(8, size)));
    const n = size >= 8 ? Number(new DataView(lenBytes.buffer).getBigUint64(0, true)) : 0;
    const head = new Uint8Array(8 + Math.min(n, MAX_HEADER + 1, Math.max(0, size - 8)));
    if (size >= 8) await readAt(0, head);
    const h = parseHeader(head.length >= 8 ? head : lenBytes, size, path);
    const tensors = new Map<string, LazyTensor>();
    for (const e of h.entries) {
      tensors.set(e.name, {
        dtype: e.dtype,
        shape: e.shape,
        read: (dst) => {
          const want = e.end - e.begin;
          if (dst && dst.byteLength !== want) {
            throw new Error(`${e.name}: read into ${dst.byteLength} bytes, needs ${want}`);
          }
          return readAt(h.dataStart + e.begin, dst ?? new Uint8Array(want));
        },
        readAt: (offset, dst) => {
          if (!(offset >= 0) || offset + dst.byteLength > e.end - e.begin) {
            throw new Error(
              `${e.name}: bytes [${offset}, ${offset + dst.byteLength}) are outside the tensor`,
            );
          }
          return readAt(h.dataStart + e.begin + offset, dst);
        },
      });
    }
    return { tensors, metadata: h.metadata, close: () => file.close() };
  } catch (e) {
    file.close();
    throw e;
  }
}

/**
 * Reads and validates a safetensors file.
 * @example
 * const { tensors, metadata } = await readSafetensors("model.safetensors");
 */
export async function readSafetensors(
  path: string,
): Promise<{ tensors: Map<string, StTensor>; metadata: Record<string, string> }> {
  return parseWithMetadata(await storage().read(path), path);
}

type Ctor<T> = { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number };

/** `t.data` as a typed array of class `ctor`: a view when aligned, else an aligned copy. */
function view<T>(t: StTensor, ctor: Ctor<T>): T {
  const d = t.data, size = ctor.BYTES_PER_ELEMENT;
  if (d.byteOffset % size === 0 && d.buffer instanceof ArrayBuffer) {
    return new ctor(d.buffer, d.byteOffset, d.byteLength / size);
  }
  return new ctor(d.slice().buffer, 0, d.byteLength / size);
}

/**
 * Tensor values as f32: F32 is a view (or copy if unaligned); F16/BF16/F64 and integers are converted.
 * @example
 * const w = toFloat32(tensors.get("wte.weight")!);
 */
export function toFloat32(t: StTensor): Float32Array {
  if (t.dtype === "F32") return view(t, Float32Array);
  if (t.dtype === "F16") return f16ToF32(view(t, Uint16Array));
  if (t.dtype === "BF16") return bf16ToF32(view(t, Uint16Array));
  if (t.dtype === "I64") return Float32Array.from(view(t, BigInt64Array), Number);
  return Float32Array.from(view(t, ARRAY_OF[t.dtype] as Ctor<ArrayLike<number>>));
}

/**
 * Integer tensor values as i64 (I64 is a view or aligned copy; I32/I8/U8/BOOL are widened).
 * @example
 * const ids = toBigInt64(tensors.get("position_ids")!);
 */
export function toBigInt64(t: StTensor): BigInt64Array {
  if (t.dtype === "I64") return view(t, BigInt64Array);
  if (!["I32", "I8", "U8", "BOOL"].includes(t.dtype)) {
    throw new Error(`toBigInt64: cannot convert float dtype ${t.dtype} to int64`);
  }
  return BigInt64Array.from(view(t, ARRAY_OF[t.dtype] as Ctor<ArrayLike<number>>), BigInt);
}

/**
 * Serializes tensors into one preallocated buffer. The header is space-padded to a multiple of 8 and
 * tensors are ordered by dtype size (desc) then name, so each tensor starts aligned to its element size
 * (8-byte dtypes, and the data section itself, start 8-byte aligned in the file).
 * @example
 * const bytes = serializeSafetensors({ w: { dtype: "F32", shape: [2], data: Float32Array.of(1, 2) } });
 */
export function serializeSafetensors(
  tensors: Record<string, StTensorInput>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors).sort((a, b) =>
    DTYPE_SIZE[tensors[b].dtype] - DTYPE_SIZE[tensors[a].dtype] || (a < b ? -1 : a > b ? 1 : 0)
  );
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let total = 0;
  for (const name of names) {
    const { dtype, shape, data } = tensors[name];
    if (name === "__metadata__") throw new Error(`serializeSafetensors: reserved tensor name "${name}"`);
    if (!(dtype in DTYPE_SIZE)) {
      throw new Error(`serializeSafetensors: tensor "${name}": unknown dtype ${dtype}`);
    }
    if (!shape.every(isNat)) throw new Error(`serializeSafetensors: tensor "${name}": bad shape [${shape}]`);
    if (!(data instanceof Uint8Array) && !(data instanceof ARRAY_OF[dtype])) {
      const want = ARRAY_OF[dtype].name;
      throw new Error(`serializeSafetensors: tensor "${name}": ${dtype} data must be ${want} or Uint8Array`);
    }
    const size = numel(shape) * DTYPE_SIZE[dtype];
    if (data.byteLength !== size) {
      throw new Error(
        `serializeSafetensors: tensor "${name}": ${data.byteLength} bytes, shape needs ${size}`,
      );
    }
    header[name] = { dtype, shape, data_offsets: [total, total + size] };
    total += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const hlen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + hlen + total);
  new DataView(out.buffer).setBigUint64(0, BigInt(hlen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + hlen);
  let pos = 8 + hlen;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}

/**
 * Writes a safetensors file atomically (see `Storage.write`: the old file or the new one, never half).
 * @example
 * await writeSafetensors("out.safetensors", { w: { dtype: "F32", shape: [1], data: Float32Array.of(1) } });
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, StTensorInput>,
  metadata?: Record<string, string>,
): Promise<void> {
  await storage().write(path, serializeSafetensors(tensors, metadata));
}

const F = new Float32Array(1), U = new Uint32Array(F.buffer);

function halfBits(x: number): number {
  F[0] = x;
  const b = U[0], sign = (b >>> 16) & 0x8000, exp = (b >>> 23) & 0xff, mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 0x1f) return sign | 0x7c00;
  let q: number, rem: number, half: number;
  if (e > 0) {
    q = (e << 10) | (mant >>> 13), rem = mant & 0x1fff, half = 0x1000;
  } else {
    const shift = 14 - e; // subnormal: value = q * 2^-24
    if (shift > 24) return sign;
    const full = mant | 0x800000;
    q = full >>> shift, rem = full & ((1 << shift) - 1), half = 1 << (shift - 1);
  }
  if (rem > half || (rem === half && (q & 1))) q++; // carry may roll into exponent / infinity: correct
  return sign | q;
}

function halfToF32(h: number): number {
  const exp = (h >>> 10) & 0x1f, mant = h & 0x3ff, sign = (h & 0x8000) << 16;
  if (exp === 0) return (sign ? -1 : 1) * mant * 2 ** -24;
  U[0] = (sign | (exp === 0x1f ? 0x7f800000 : (exp + 112) << 23) | (mant << 13)) >>> 0;
  return F[0];
}

/**
 * f32 -> IEEE half bits, round-to-nearest-even (overflow -> inf, NaN stays NaN).
 * @example f32ToF16(Float32Array.of(1, 65520)) // Uint16Array [0x3c00, 0x7c00]
 */
export function f32ToF16(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = halfBits(src[i]);
  return out;
}

/**
 * IEEE half bits -> f32 (exact).
 * @example f16ToF32(Uint16Array.of(0x3c00, 0x0001)) // Float32Array [1, 2 ** -24]
 */
export function f16ToF32(src: ArrayLike<number>): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = halfToF32(src[i]);
  return out;
}

/**
 * f32 -> bfloat16 bits, round-to-nearest-even (NaN stays a quiet NaN).
 * @example f32ToBf16(Float32Array.of(1)) // Uint16Array [0x3f80]
 */
export function f32ToBf16(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    F[0] = src[i];
    const b = U[0];
    out[i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

/**
 * bfloat16 bits -> f32 (exact), into `out` when given (src.length values), else a new array.
 * @example bf16ToF32(Uint16Array.of(0x3f80)) // Float32Array [1]
 */
export function bf16ToF32(src: ArrayLike<number>, out?: Float32Array): Float32Array {
  const dst = out ?? new Float32Array(src.length);
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return dst;
}
