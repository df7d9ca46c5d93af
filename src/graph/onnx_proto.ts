/**
 * Dependency-free ONNX protobuf encoder/decoder using the onnx.proto field numbers.
 * Encoding is two-pass: a counting pass memoizes nested message lengths and UTF-8 strings
 * (pre-order), then a writing pass replays the same calls into one preallocated Uint8Array.
 * Tensor data is always written as little-endian `raw_data` (one `set()` per tensor), so
 * ~500 MB of initializers costs a single copy. Assumes a little-endian host.
 * @module
 */

/** Tensor element types supported by this codec. */
export type OnnxDataType = "float32" | "float16" | "int64" | "int32" | "bool" | "int8" | "uint8";
/** A dense tensor. `float16` data holds raw IEEE half bits in a Uint16Array; `bool` uses Uint8Array (0/1). */
export interface OnnxTensorProto {
  name: string;
  dataType: OnnxDataType;
  dims: number[];
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array | Int8Array | Uint16Array;
}
/** A node attribute. `int`/`ints` are int64 (negative allowed); `float`/`floats` are stored as float32. */
export type OnnxAttribute =
  | { name: string; type: "float"; value: number }
  | { name: string; type: "int"; value: number }
  | { name: string; type: "string"; value: string }
  | { name: string; type: "floats"; value: number[] }
  | { name: string; type: "ints"; value: number[] }
  | { name: string; type: "tensor"; value: OnnxTensorProto }
  | { name: string; type: "graph"; value: OnnxGraph };
/** A graph node. Empty-string inputs mark omitted optional inputs. */
export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: OnnxAttribute[];
}
/** A typed tensor value; shape entries are static sizes or symbolic `dim_param` names ("" = unknown dim). */
export interface OnnxValueInfo {
  name: string;
  dataType: OnnxDataType;
  shape: (number | string)[];
}
/** A computation graph (nodes in topological order). */
export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  initializers?: OnnxTensorProto[];
  valueInfo?: OnnxValueInfo[];
}
/** A model: defaults are `irVersion` 8 and `opsetImports` `[{ domain: "", version: 17 }]`. */
export interface OnnxModel {
  irVersion?: number;
  opsetImports?: { domain: string; version: number }[];
  producerName?: string;
  graph: OnnxGraph;
  metadata?: Record<string, string>;
}

type TensorData = OnnxTensorProto["data"];
type DataCtor = { new (buf: ArrayBuffer): TensorData };
type FromNumbers = { from(a: number[]): TensorData };
/** dtype → [TensorProto.DataType code, typed-array constructor]. */
const DTYPES: Record<OnnxDataType, [code: number, ctor: DataCtor]> = {
  float32: [1, Float32Array],
  uint8: [2, Uint8Array],
  int8: [3, Int8Array],
  int32: [6, Int32Array],
  int64: [7, BigInt64Array],
  bool: [9, Uint8Array],
  float16: [10, Uint16Array],
};
function dtypeOf(code: number, what: string): OnnxDataType {
  const hit = Object.entries(DTYPES).find(([, [c]]) => c === code);
  return hit ? hit[0] as OnnxDataType : fail(`unsupported data type ${code} in "${what}"`);
}
const ATTR_CODES = { float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7 } as const;
const INT64_MAX = 0x7fffffffffffffffn;
const fail = (msg: string): never => {
  throw new Error(`onnx_proto: ${msg}`);
};
const te = new TextEncoder(), td = new TextDecoder();
const F32 = new Float32Array(1), F32_BYTES = new Uint8Array(F32.buffer); // little-endian host assumed

/** Bytes of a varint: negatives are 10-byte two's complement; integers ≥ 2^63 clamp to INT64_MAX. */
function varintSize(v: number): number {
  if (v < 0) return 10;
  if (v >= 2 ** 63) return 9;
  let n = 1;
  for (; v >= 128; n++) v = Math.floor(v / 128);
  return n;
}

/** Counting (no `buf`) or writing encoder; both passes must make identical calls. */
class Enc {
  pos = 0;
  private k = 0;
  constructor(readonly buf?: Uint8Array, readonly memo: (number | Uint8Array)[] = []) {}
  varint(v: number): void {
    if (!Number.isInteger(v)) fail(`not an integer: ${v}`);
    const buf = this.buf;
    if (!buf) return void (this.pos += varintSize(v));
    if (v < 0 || v >= 2 ** 63) {
      let b = v < 0 ? BigInt.asUintN(64, BigInt(v)) : INT64_MAX;
      for (; b >= 128n; b >>= 7n) buf[this.pos++] = Number(b & 127n) | 128;
      buf[this.pos++] = Number(b);
      return;
    }
    for (; v >= 128; v = Math.floor(v / 128)) buf[this.pos++] = (v % 128) | 128;
    buf[this.pos++] = v;
  }
  int(field: number, v: number): void {
    this.varint(field * 8);
    this.varint(v);
  }
  f32(v: number): void {
    F32[0] = v;
    this.buf?.set(F32_BYTES, this.pos);
    this.pos += 4;
  }
  bytes(field: number, b: Uint8Array): void {
    this.varint(field * 8 + 2);
    this.varint(b.length);
    this.buf?.set(b, this.pos);
    this.pos += b.length;
  }
  str(field: number, s: string): void {
    let b: Uint8Array;
    if (this.buf) b = this.memo[this.k++] as Uint8Array;
    else this.memo.push(b = te.encode(s));
    this.bytes(field, b);
  }
  /** Length-delimited field whose body (a sub-message or packed scalars) is emitted by `body`. */
  msg(field: number, body: () => void): void {
    this.varint(field * 8 + 2);
    if (this.buf) return void (this.varint(this.memo[this.k++] as number), body());
    const i = this.memo.push(0) - 1, start = this.pos;
    body();
    const len = this.pos - start;
    this.memo[i] = len;
    this.pos += varintSize(len);
  }
}

function encTensor(e: Enc, t: OnnxTensorProto): void {
  const [code, ctor] = DTYPES[t.dataType];
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (!(t.data instanceof ctor) || t.data.length !== n) {
    fail(`tensor "${t.name}" needs ${n} elements in a ${ctor.name} for ${t.dataType}`);
  }
  if (t.dims.length) e.msg(1, () => t.dims.forEach((d) => e.varint(d)));
  e.int(2, code);
  if (t.name) e.str(8, t.name);
  e.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

function encAttr(e: Enc, a: OnnxAttribute): void {
  e.str(1, a.name);
  e.int(20, ATTR_CODES[a.type]);
  if (a.type === "float") (e.varint(2 * 8 + 5), e.f32(a.value));
  else if (a.type === "int") e.int(3, a.value);
  else if (a.type === "string") e.str(4, a.value);
  else if (a.type === "tensor") e.msg(5, () => encTensor(e, a.value));
  else if (a.type === "graph") e.msg(6, () => encGraph(e, a.value));
  else if (a.type === "floats") e.msg(7, () => a.value.forEach((v) => e.f32(v)));
  else e.msg(8, () => a.value.forEach((v) => e.varint(v)));
}

function encValueInfo(e: Enc, v: OnnxValueInfo): void {
  // ValueInfoProto.type → TypeProto.tensor_type → {elem_type, shape → dim[] → dim_value | dim_param}
  const shape = () =>
    v.shape.forEach((d) => e.msg(1, () => typeof d === "number" ? e.int(1, d) : d && e.str(2, d)));
  e.str(1, v.name);
  e.msg(2, () => e.msg(1, () => (e.int(1, DTYPES[v.dataType][0]), e.msg(2, shape))));
}

function encGraph(e: Enc, g: OnnxGraph): void {
  for (const n of g.nodes) {
    e.msg(1, () => {
      n.inputs.forEach((s) => e.str(1, s));
      n.outputs.forEach((s) => e.str(2, s));
      if (n.name) e.str(3, n.name);
      e.str(4, n.opType);
      n.attributes?.forEach((a) => e.msg(5, () => encAttr(e, a)));
      if (n.domain) e.str(7, n.domain);
    });
  }
  if (g.name) e.str(2, g.name);
  g.initializers?.forEach((t) => e.msg(5, () => encTensor(e, t)));
  g.inputs.forEach((v) => e.msg(11, () => encValueInfo(e, v)));
  g.outputs.forEach((v) => e.msg(12, () => encValueInfo(e, v)));
  g.valueInfo?.forEach((v) => e.msg(13, () => encValueInfo(e, v)));
}

function encModel(e: Enc, m: OnnxModel): void {
  e.int(1, m.irVersion ?? 8);
  if (m.producerName) e.str(2, m.producerName);
  e.msg(7, () => encGraph(e, m.graph));
  for (const o of m.opsetImports ?? [{ domain: "", version: 17 }]) {
    e.msg(8, () => (o.domain && e.str(1, o.domain), e.int(2, o.version)));
  }
  for (const [k, v] of Object.entries(m.metadata ?? {})) e.msg(14, () => (e.str(1, k), e.str(2, v)));
}

/**
 * Serialize a model to ONNX protobuf bytes (loadable by onnxruntime's `InferenceSession.create`).
 * Throws if tensor data does not match its dtype/dims or an int attribute is not an integer.
 * (Protobuf, and so onnxruntime, cannot load a single model file over 2 GiB.)
 * @example
 * const bytes = encodeModel({ graph: { name: "g",
 *   nodes: [{ opType: "Relu", inputs: ["x"], outputs: ["y"] }],
 *   inputs: [{ name: "x", dataType: "float32", shape: ["N"] }],
 *   outputs: [{ name: "y", dataType: "float32", shape: ["N"] }] } });
 */
export function encodeModel(m: OnnxModel): Uint8Array {
  const count = new Enc();
  encModel(count, m);
  const w = new Enc(new Uint8Array(count.pos), count.memo);
  encModel(w, m);
  if (w.pos !== count.pos) fail("internal size mismatch");
  return w.buf!;
}

type Fields = Record<number, (number | bigint | Uint8Array)[]>;
const EMPTY = new Uint8Array(0);

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  /** int64 varint (two's complement): a number when it is a safe integer, else the exact bigint. */
  int(): number | bigint {
    let v = 0, hi = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.buf[this.pos++] ?? fail("truncated message");
      if (i < 7) v += (b & 127) * 128 ** i; // exact: < 2^49
      else hi |= BigInt(b & 127) << BigInt(7 * i);
      if (b >= 128) continue;
      if (i < 7) return v;
      const x = BigInt.asIntN(64, BigInt(v) | hi), n = Number(x);
      return Number.isSafeInteger(n) ? n : x;
    }
    return fail("malformed varint");
  }
  varint(): number {
    return Number(this.int());
  }
  f32(): number {
    if (this.pos + 4 > this.buf.length) fail("truncated message");
    F32_BYTES.set(this.buf.subarray(this.pos, this.pos += 4));
    return F32[0];
  }
  bytes(): Uint8Array {
    const n = this.varint(), start = this.pos;
    if ((this.pos += n) > this.buf.length) fail("truncated message");
    return this.buf.subarray(start, this.pos);
  }
}

/** Split a message into field number → values (varints, fixed32 as float32, length-delimited as views). */
function parse(buf: Uint8Array): Fields {
  const p: Fields = {}, r = new Reader(buf);
  while (r.pos < buf.length) {
    const tag = r.varint(), w = tag & 7;
    if (w === 1) r.pos += 8; // fixed64 (double): unused by the supported subset
    else if (w !== 0 && w !== 2 && w !== 5) fail(`unsupported wire type ${w}`);
    else (p[Math.floor(tag / 8)] ??= []).push(w === 0 ? r.int() : w === 2 ? r.bytes() : r.f32());
  }
  return p;
}
const last = (p: Fields, f: number) => p[f]?.at(-1);
const num = (p: Fields, f: number): number =>
  ((v) => v instanceof Uint8Array ? 0 : Number(v ?? 0))(last(p, f));
const sub = (p: Fields, f: number): Uint8Array => ((v) => v instanceof Uint8Array ? v : EMPTY)(last(p, f));
const str = (p: Fields, f: number): string => td.decode(sub(p, f));
const msgs = (p: Fields, f: number): Uint8Array[] => (p[f] ?? []).filter((v) => v instanceof Uint8Array);
/** A repeated scalar field, packed (length-delimited) or not. */
function packed<T>(p: Fields, f: number, read: (r: Reader) => T, conv: (n: number | bigint) => T): T[] {
  const out: T[] = [];
  for (const v of p[f] ?? []) {
    if (!(v instanceof Uint8Array)) out.push(conv(v));
    else for (const r = new Reader(v); r.pos < v.length;) out.push(read(r));
  }
  return out;
}
const varints = (p: Fields, f: number) => packed(p, f, (r) => r.varint(), Number);
const floats = (p: Fields, f: number) => packed(p, f, (r) => r.f32(), Number);

function decTensor(buf: Uint8Array): OnnxTensorProto {
  const p = parse(buf), name = str(p, 8), dataType = dtypeOf(num(p, 2), name), ctor = DTYPES[dataType][1];
  if (num(p, 14) === 1) fail(`tensor "${name}" uses external data (unsupported)`);
  const dims = varints(p, 1), n = dims.reduce((a, b) => a * b, 1), from = ctor as unknown as FromNumbers;
  let data: TensorData;
  if (p[9]) data = new ctor(sub(p, 9).slice().buffer);
  else if (dataType === "int64") data = BigInt64Array.from(packed(p, 7, (r) => BigInt(r.int()), BigInt));
  else data = from.from(dataType === "float32" ? floats(p, 4) : varints(p, 5));
  if (data.length !== n) fail(`tensor "${name}" has ${data.length} elements, dims say ${n}`);
  return { name, dataType, dims, data };
}

function decAttr(buf: Uint8Array): OnnxAttribute {
  const p = parse(buf), name = str(p, 1), type = num(p, 20);
  if (type === 1) return { name, type: "float", value: num(p, 2) };
  if (type === 2) return { name, type: "int", value: num(p, 3) };
  if (type === 3) return { name, type: "string", value: str(p, 4) };
  if (type === 4) return { name, type: "tensor", value: decTensor(sub(p, 5)) };
  if (type === 5) return { name, type: "graph", value: decGraph(sub(p, 6)) };
  if (type === 6) return { name, type: "floats", value: floats(p, 7) };
  if (type === 7) return { name, type: "ints", value: varints(p, 8) };
  return fail(`unsupported attribute type ${type} for "${name}"`);
}

function decNode(buf: Uint8Array): OnnxNode {
  const p = parse(buf), strs = (f: number) => msgs(p, f).map((b) => td.decode(b));
  const n: OnnxNode = { opType: str(p, 4), inputs: strs(1), outputs: strs(2) };
  if (p[3]) n.name = str(p, 3);
  if (p[7]) n.domain = str(p, 7);
  if (p[5]) n.attributes = msgs(p, 5).map(decAttr);
  return n;
}

function decValueInfo(buf: Uint8Array): OnnxValueInfo {
  const p = parse(buf), name = str(p, 1), tensorType = parse(sub(parse(sub(p, 2)), 1));
  const shape = msgs(parse(sub(tensorType, 2)), 1).map((b) => {
    const d = parse(b);
    return d[1] ? num(d, 1) : str(d, 2);
  });
  return { name, dataType: dtypeOf(num(tensorType, 1), name), shape };
}

function decGraph(buf: Uint8Array): OnnxGraph {
  const p = parse(buf), infos = (f: number) => msgs(p, f).map(decValueInfo);
  return {
    name: str(p, 2),
    nodes: msgs(p, 1).map(decNode),
    inputs: infos(11),
    outputs: infos(12),
    initializers: msgs(p, 5).map(decTensor),
    valueInfo: infos(13),
  };
}

/**
 * Parse ONNX protobuf bytes (inverse of {@link encodeModel}). Graphs always get `initializers` and
 * `valueInfo` arrays; node `name`/`domain`/`attributes` appear only when present in the bytes.
 * Throws on external data, unsupported dtypes (e.g. double) and unsupported attribute kinds.
 * @example
 * const model = decodeModel(await Deno.readFile("model.onnx"));
 * console.log(model.graph.nodes.map((n) => n.opType));
 */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  const p = parse(bytes);
  if (!p[7]) fail("model has no graph");
  const m: OnnxModel = { graph: decGraph(sub(p, 7)) };
  if (p[1]) m.irVersion = num(p, 1);
  if (p[2]) m.producerName = str(p, 2);
  if (p[8]) m.opsetImports = msgs(p, 8).map(parse).map((o) => ({ domain: str(o, 1), version: num(o, 2) }));
  for (const e of msgs(p, 14).map(parse)) (m.metadata ??= {})[str(e, 1)] = str(e, 2);
  return m;
}
