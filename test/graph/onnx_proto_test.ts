import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import {
  decodeModel,
  encodeModel,
  type OnnxDataType,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensorProto,
  type OnnxValueInfo,
} from "../../src/graph/onnx_proto.ts";

const f32 = (name: string, dims: number[], data: number[]): OnnxTensorProto => ({
  name,
  dataType: "float32",
  dims,
  data: new Float32Array(data),
});
const i64 = (name: string, data: (number | bigint)[]): OnnxTensorProto => ({
  name,
  dataType: "int64",
  dims: [data.length],
  data: BigInt64Array.from(data, BigInt),
});
const vi = (name: string, shape: (number | string)[], dataType: OnnxDataType = "float32"): OnnxValueInfo => ({
  name,
  dataType,
  shape,
});
const graph = (
  nodes: OnnxNode[],
  inputs: OnnxValueInfo[],
  outputs: OnnxValueInfo[],
  initializers: OnnxTensorProto[] = [],
): OnnxGraph => ({ name: "g", nodes, inputs, outputs, initializers });

async function run(g: OnnxGraph, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(encodeModel({ graph: g }));
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}
const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `[${i}] ${a[i]} vs ${b[i]}`);
};

Deno.test("round trip: every attribute type, symbolic/static dims, every dtype", () => {
  const sub: OnnxGraph = {
    name: "then",
    nodes: [{
      opType: "Constant",
      inputs: [],
      outputs: ["c"],
      attributes: [{ name: "value", type: "tensor", value: f32("", [], [7]) }],
    }],
    inputs: [],
    outputs: [vi("c", [])],
    initializers: [],
    valueInfo: [],
  };
  const inits: OnnxTensorProto[] = [
    f32("w", [2, 2], [1, -2.5, 3e-8, Infinity]),
    { name: "h", dataType: "float16", dims: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7bff]) },
    i64("ix", [-1n, 0n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 40n]),
    { name: "i32", dataType: "int32", dims: [2], data: new Int32Array([-2147483648, 2147483647]) },
    { name: "b", dataType: "bool", dims: [1, 2], data: new Uint8Array([1, 0]) },
    { name: "i8", dataType: "int8", dims: [2], data: new Int8Array([-128, 127]) },
    { name: "u8", dataType: "uint8", dims: [0], data: new Uint8Array(0) },
    { name: "scalar", dataType: "float32", dims: [], data: new Float32Array([42]) },
  ];
  const model: OnnxModel = {
    irVersion: 9,
    opsetImports: [{ domain: "", version: 18 }, { domain: "com.microsoft", version: 1 }],
    producerName: "posttrain ✓",
    metadata: { author: "me", "ключ": "" },
    graph: {
      name: "main",
      nodes: [{
        opType: "Custom",
        domain: "com.microsoft",
        name: "n0",
        inputs: ["x", "", "w"],
        outputs: ["y"],
        attributes: [
          { name: "f", type: "float", value: 0.5 },
          { name: "i", type: "int", value: -1 },
          { name: "big", type: "int", value: 2 ** 53 - 1 },
          { name: "s", type: "string", value: "héllo ✓" },
          { name: "fs", type: "floats", value: [1.5, -2.25, 0] },
          { name: "is", type: "ints", value: [-3, 0, 2 ** 40, -(2 ** 40)] },
          { name: "t", type: "tensor", value: i64("tt", [5n, -6n]) },
          { name: "g", type: "graph", value: sub },
        ],
      }, { opType: "Relu", inputs: ["y"], outputs: ["z"] }],
      inputs: [vi("x", ["batch", 0, 3, ""]), vi("flag", [], "bool")],
      outputs: [vi("z", ["batch", 2 ** 40], "float16")],
      initializers: inits,
      valueInfo: [vi("y", ["batch", "seq"], "int64")],
    },
  };
  const bytes = encodeModel(model);
  assert.deepEqual(decodeModel(bytes), model);
  assert.deepEqual(decodeModel(encodeModel(decodeModel(bytes))), model);
  // int64 -1 must be a 10-byte two's-complement varint.
  const neg = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  assert.ok(bytes.some((_, k) => neg.every((b, j) => bytes[k + j] === b)));
  // Defaults: ir_version 8, opset 17; optional node fields stay absent.
  const d = decodeModel(
    encodeModel({ graph: graph([{ opType: "Relu", inputs: ["a"], outputs: ["b"] }], [], []) }),
  );
  assert.equal(d.irVersion, 8);
  assert.deepEqual(d.opsetImports, [{ domain: "", version: 17 }]);
  assert.deepEqual(d.graph.nodes, [{ opType: "Relu", inputs: ["a"], outputs: ["b"] }]);
  assert.equal(d.metadata, undefined);
});

Deno.test("encoder rejects mismatched tensor data", () => {
  assert.throws(() => encodeModel({ graph: graph([], [], [], [f32("w", [2, 2], [1, 2, 3])]) }), /4 elements/);
  const bad = { name: "w", dataType: "int64", dims: [1], data: new Int32Array(1) } as OnnxTensorProto;
  assert.throws(() => encodeModel({ graph: graph([], [], [], [bad]) }), /BigInt64Array/);
  const frac = [{
    opType: "X",
    inputs: [],
    outputs: [],
    attributes: [{ name: "a", type: "int", value: 0.5 }],
  }];
  assert.throws(() => encodeModel({ graph: graph(frac as OnnxNode[], [], []) }), /not an integer/);
});

// Minimal hand-written protobuf (independent of the encoder) for the decoder's non-raw paths.
const vint = (n: number | bigint): number[] => {
  const out: number[] = [];
  let b = BigInt.asUintN(64, BigInt(n));
  for (; b >= 128n; b >>= 7n) out.push(Number(b & 127n) | 128);
  return [...out, Number(b)];
};
const fv = (f: number, v: number | bigint) => [...vint(f * 8), ...vint(v)];
const fl = (f: number, p: number[]) => [...vint(f * 8 + 2), ...vint(p.length), ...p];
const fs = (f: number, s: string) => fl(f, [...new TextEncoder().encode(s)]);
const le32 = (x: number) => [...new Uint8Array(new Float32Array([x]).buffer)];

Deno.test("decoder: float_data/int32_data/int64_data, packed and unpacked; unknown fields skipped", () => {
  const tensors = [
    [
      ...fv(1, 3),
      ...fv(2, 1),
      ...fs(8, "fu"),
      ...[1, -2, 0.25].flatMap((x) => [...vint(4 * 8 + 5), ...le32(x)]),
    ],
    [...fl(1, [...vint(3)]), ...fv(2, 1), ...fs(8, "fp"), ...fl(4, [1, -2, 0.25].flatMap(le32))],
    [...fv(1, 2), ...fv(2, 7), ...fs(8, "lu"), ...fv(7, -5), ...fv(7, 2n ** 63n - 1n)],
    [...fv(1, 2), ...fv(2, 7), ...fs(8, "lp"), ...fl(7, [...vint(-5), ...vint(2n ** 63n - 1n)])],
    [...fv(1, 2), ...fv(2, 3), ...fs(8, "i8"), ...fl(5, [...vint(-3), ...vint(127)])],
    [...fv(1, 1), ...fv(2, 10), ...fs(8, "h"), ...fv(5, 0xc000), ...fs(12, "doc")],
    [...fv(2, 6), ...fs(8, "s"), ...fv(5, -7)],
  ];
  const g = [...fs(2, "hand"), ...tensors.flatMap((t) => fl(5, t)), ...fs(10, "graph doc")];
  const bytes = new Uint8Array([...fv(1, 7), ...fs(6, "model doc"), ...fl(7, g), ...fl(8, fv(2, 13))]);
  const m = decodeModel(bytes);
  assert.equal(m.irVersion, 7);
  assert.deepEqual(m.opsetImports, [{ domain: "", version: 13 }]);
  const t = Object.fromEntries(m.graph.initializers!.map((x) => [x.name, x]));
  assert.deepEqual(t.fu.data, new Float32Array([1, -2, 0.25]));
  assert.deepEqual(t.fp, {
    name: "fp",
    dataType: "float32",
    dims: [3],
    data: new Float32Array([1, -2, 0.25]),
  });
  assert.deepEqual(t.lu.data, new BigInt64Array([-5n, 2n ** 63n - 1n]));
  assert.deepEqual(t.lp.data, new BigInt64Array([-5n, 2n ** 63n - 1n]));
  assert.deepEqual(t.i8, { name: "i8", dataType: "int8", dims: [2], data: new Int8Array([-3, 127]) });
  assert.deepEqual(t.h.data, new Uint16Array([0xc000]));
  assert.deepEqual(t.s, { name: "s", dataType: "int32", dims: [], data: new Int32Array([-7]) });
  assert.throws(() => decodeModel(bytes.subarray(0, bytes.length - 1)), /truncated/);
});

Deno.test("ort: MatMul+Add with initializers and a symbolic batch dim", async () => {
  const W = [1, 2, 3, 4, 5, 6], B = [0.5, -1];
  const g = graph(
    [{ opType: "MatMul", inputs: ["x", "W"], outputs: ["xw"] }, {
      opType: "Add",
      inputs: ["xw", "B"],
      outputs: ["y"],
    }],
    [vi("x", ["batch", 3])],
    [vi("y", ["batch", 2])],
    [f32("W", [3, 2], W), f32("B", [2], B)],
  );
  for (const n of [1, 4]) {
    const x = Float32Array.from({ length: n * 3 }, (_, i) => i - 2);
    const { y } = await run(g, { x: new ort.Tensor("float32", x, [n, 3]) });
    assert.deepEqual(y.dims, [n, 2]);
    const want = Array.from({ length: n * 2 }, (_, k) => {
      const [r, c] = [Math.floor(k / 2), k % 2];
      return B[c] + [0, 1, 2].reduce((s, j) => s + x[r * 3 + j] * W[j * 2 + c], 0);
    });
    close(y.data as Float32Array, want);
  }
});

Deno.test("ort: Gather with int64 indices, Transpose perm (ints), Reshape with shape initializer", async () => {
  const table = Array.from({ length: 12 }, (_, i) => i * 1.5);
  const g = graph(
    [
      { opType: "Gather", inputs: ["T", "ids"], outputs: ["e"] },
      {
        opType: "Transpose",
        inputs: ["x"],
        outputs: ["xt"],
        attributes: [{ name: "perm", type: "ints", value: [2, 0, 1] }],
      },
      { opType: "Reshape", inputs: ["x", "shape"], outputs: ["xr"] },
    ],
    [vi("ids", ["n"], "int64"), vi("x", ["b", 2, 3])],
    [vi("e", ["n", 3]), vi("xt", [3, "b", 2]), vi("xr", ["b", 6])],
    [f32("T", [4, 3], table), i64("shape", [-1, 6])],
  );
  for (const b of [1, 3]) {
    const x = Float32Array.from({ length: b * 6 }, (_, i) => i);
    const ids = new BigInt64Array([3n, 0n, -1n, 1n].slice(0, b + 1));
    const r = await run(g, {
      ids: new ort.Tensor("int64", ids, [ids.length]),
      x: new ort.Tensor("float32", x, [b, 2, 3]),
    });
    close(
      r.e.data as Float32Array,
      [...ids].flatMap((i) => table.slice((Number(i) + 4) % 4 * 3).slice(0, 3)),
    );
    assert.deepEqual(r.xt.dims, [3, b, 2]);
    const xt: number[] = [];
    for (let k = 0; k < 3; k++) {
      for (let i = 0; i < b; i++) for (let j = 0; j < 2; j++) xt.push(x[i * 6 + j * 3 + k]);
    }
    close(r.xt.data as Float32Array, xt);
    assert.deepEqual(r.xr.dims, [b, 6]);
    close(r.xr.data as Float32Array, x);
  }
});

Deno.test("ort: float/int/string attributes, tensor + graph attributes, every initializer dtype", async () => {
  const konst = (v: number): OnnxGraph =>
    graph(
      [{
        opType: "Constant",
        inputs: [],
        outputs: [`k${v}`],
        attributes: [{ name: "value", type: "tensor", value: f32("", [1], [v]) }],
      }],
      [],
      [vi(`k${v}`, [1])],
    );
  const cast = (x: string): OnnxNode => ({
    opType: "Cast",
    inputs: [x],
    outputs: [`${x}_f`],
    attributes: [{ name: "to", type: "int", value: 1 }],
  });
  const inits: OnnxTensorProto[] = [
    { name: "h", dataType: "float16", dims: [3], data: new Uint16Array([0x3c00, 0xc000, 0x3800]) },
    { name: "i8", dataType: "int8", dims: [2], data: new Int8Array([-128, 5]) },
    { name: "u8", dataType: "uint8", dims: [2], data: new Uint8Array([255, 1]) },
    { name: "i32", dataType: "int32", dims: [2], data: new Int32Array([-70000, 3]) },
    { name: "bl", dataType: "bool", dims: [2], data: new Uint8Array([1, 0]) },
  ];
  const g = graph(
    [
      {
        opType: "Softmax",
        inputs: ["x"],
        outputs: ["sm"],
        attributes: [{ name: "axis", type: "int", value: -1 }],
      },
      {
        opType: "LeakyRelu",
        inputs: ["x"],
        outputs: ["lr"],
        attributes: [{ name: "alpha", type: "float", value: 0.25 }],
      },
      {
        opType: "Einsum",
        inputs: ["x"],
        outputs: ["es"],
        attributes: [{ name: "equation", type: "string", value: "ij->ji" }],
      },
      {
        opType: "If",
        inputs: ["c"],
        outputs: ["k"],
        attributes: [{ name: "then_branch", type: "graph", value: konst(1) }, {
          name: "else_branch",
          type: "graph",
          value: konst(2),
        }],
      },
      ...inits.map((t) => cast(t.name)),
    ],
    [vi("x", [2, 3]), vi("c", [], "bool")],
    [
      vi("sm", [2, 3]),
      vi("lr", [2, 3]),
      vi("es", [3, 2]),
      vi("k", [1]),
      ...inits.map((t) => vi(`${t.name}_f`, t.dims)),
    ],
    inits,
  );
  const x = [1, 2, 3, -1, 0, 1];
  for (const c of [true, false]) {
    const r = await run(g, {
      x: new ort.Tensor("float32", new Float32Array(x), [2, 3]),
      c: new ort.Tensor("bool", new Uint8Array([c ? 1 : 0]), []),
    });
    const row = (a: number[]) => a.map((v) => Math.exp(v) / a.reduce((s, u) => s + Math.exp(u), 0));
    close(r.sm.data as Float32Array, [...row(x.slice(0, 3)), ...row(x.slice(3))]);
    close(r.lr.data as Float32Array, x.map((v) => v < 0 ? v * 0.25 : v));
    close(r.es.data as Float32Array, [1, -1, 2, 0, 3, 1]);
    close(r.k.data as Float32Array, [c ? 1 : 2]);
    close(r.h_f.data as Float32Array, [1, -2, 0.5]);
    close(r.i8_f.data as Float32Array, [-128, 5]);
    close(r.u8_f.data as Float32Array, [255, 1]);
    close(r.i32_f.data as Float32Array, [-70000, 3]);
    close(r.bl_f.data as Float32Array, [1, 0]);
  }
});

Deno.test("large initializer: 64 MB encodes in one buffer, decodes and runs", async () => {
  const n = 16 * 1024 * 1024, big = new Float32Array(n);
  for (let i = 0; i < n; i += 4096) big[i] = i / n;
  const g = graph(
    [{
      opType: "ReduceSum",
      inputs: ["W", "axes"],
      outputs: ["s"],
      attributes: [{ name: "keepdims", type: "int", value: 0 }],
    }],
    [],
    [vi("s", [])],
    [{ name: "W", dataType: "float32", dims: [n], data: big }, i64("axes", [0])],
  );
  const t0 = performance.now();
  const bytes = encodeModel({ graph: g });
  const ms = performance.now() - t0;
  assert.ok(bytes.length > n * 4 && bytes.length < n * 4 + 200, `${bytes.length}`);
  assert.ok(ms < 5000, `encode took ${ms} ms`);
  assert.deepEqual(decodeModel(bytes).graph.initializers![0].data, big);
  const s = await ort.InferenceSession.create(bytes);
  const { s: sum } = await s.run({});
  await s.release();
  close([(sum.data as Float32Array)[0] / 2048], [big.reduce((a, b) => a + b, 0) / 2048]);
});
