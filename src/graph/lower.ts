/**
 * @module Lowering: IR → ONNX ModelProto bytes (opset 18, standard domain only), so every
 * onnxruntime backend (WASM, WebGPU, native) runs the same graph. Graph inputs are the IR's
 * `input` nodes that the outputs depend on; constants become (deduplicated) initializers.
 */
import { ancestors } from "./autodiff.ts";
import type { Tensor } from "./ir.ts";
import { type Emitter, type OnnxAttr, OPS } from "./ops.ts";
import {
  encodeModel,
  type OnnxAttribute,
  type OnnxDataType,
  type OnnxNode,
  type OnnxTensorProto,
  type OnnxValueInfo,
} from "./onnx_proto.ts";

/** The ONNX opset the lowering targets. */
export const OPSET = 18;

/** A lowered graph: the model bytes plus the names of its inputs and outputs. */
export interface LoweredGraph {
  bytes: Uint8Array;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  nodeCount: number;
}

function toAttribute(name: string, a: OnnxAttr): OnnxAttribute {
  if ("i" in a) return { name, type: "int", value: a.i };
  if ("f" in a) return { name, type: "float", value: a.f };
  if ("ints" in a) return { name, type: "ints", value: a.ints };
  return { name, type: "string", value: a.s };
}

/**
 * Lower the graph computing `outputs` (output name → tensor) to ONNX bytes.
 *
 * @example
 * ```ts
 * import { input, mul } from "./ops.ts";
 * const x = input("x", "float32", ["N"]);
 * const { bytes } = lowerGraph({ y: mul(x, x) });
 * ```
 */
export function lowerGraph(
  outputs: Record<string, Tensor>,
  opts: { name?: string; initializers?: ReadonlyMap<string, Float32Array> } = {},
): LoweredGraph {
  const name = opts.name ?? "posttrain";
  const nodes: OnnxNode[] = [];
  const inits: OnnxTensorProto[] = [];
  const constNames = new Map<string, string>();
  const names = new Map<Tensor, string>();
  let counter = 0;
  const fresh = (p: string) => `${p}${counter++}`;

  const e: Emitter = {
    node(opType, inputs, attrs = {}, nOutputs = 1) {
      const outs = Array.from({ length: nOutputs }, () => fresh("t"));
      nodes.push({
        opType,
        inputs,
        outputs: outs,
        name: fresh(opType + "_"),
        attributes: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)),
      });
      return outs[0];
    },
    constant: (t) => constant(t),
    i64(values, shape = [values.length]) {
      const key = `i64:${shape}:${values}`;
      let n = constNames.get(key);
      if (!n) {
        n = fresh("c");
        inits.push({ name: n, dataType: "int64", dims: shape, data: BigInt64Array.from(values.map(BigInt)) });
        constNames.set(key, n);
      }
      return n;
    },
  };
  const constant = (t: Tensor) => {
    const v = t.attrs.value as Float32Array | BigInt64Array;
    const key = `${t.dtype}:${t.shape}:${
      v.length <= 16 ? Array.from(v as ArrayLike<unknown>).join(",") : t.id
    }`;
    let n = constNames.get(key);
    if (!n) {
      n = fresh("c");
      inits.push({ name: n, dataType: t.dtype as OnnxDataType, dims: t.shape as number[], data: v });
      constNames.set(key, n);
    }
    return n;
  };

  const order = [...ancestors(Object.values(outputs))].sort((a, b) => a.id - b.id);
  const inputs: OnnxValueInfo[] = [];
  for (const t of order) {
    if (t.op === "input" && opts.initializers?.has(t.inputName!)) {
      // A baked weight (exported models carry their weights inside the file).
      const n = t.inputName!, data = opts.initializers.get(n)!;
      if (inits.some((i) => i.name === n)) throw new Error(`two graph inputs named ${n}`);
      inits.push({ name: n, dataType: "float32", dims: t.shape as number[], data });
      names.set(t, n);
    } else if (t.op === "input") {
      const n = t.inputName!;
      if (inputs.some((i) => i.name === n)) throw new Error(`two graph inputs named ${n}`);
      inputs.push({ name: n, dataType: t.dtype as OnnxDataType, shape: [...t.shape] });
      names.set(t, n);
    } else if (t.op === "const") names.set(t, e.constant(t));
    else names.set(t, OPS[t.op].lower(e, t, t.inputs.map((i) => names.get(i)!)));
  }

  const outInfo: OnnxValueInfo[] = [];
  for (const [outName, t] of Object.entries(outputs)) {
    nodes.push({ opType: "Identity", inputs: [names.get(t)!], outputs: [outName], name: fresh("out_") });
    outInfo.push({ name: outName, dataType: t.dtype as OnnxDataType, shape: [...t.shape] });
  }
  const bytes = encodeModel({
    irVersion: 8,
    opsetImports: [{ domain: "", version: OPSET }],
    producerName: "posttrain",
    graph: { name, nodes, inputs, outputs: outInfo, initializers: inits },
  });
  return { bytes, inputs, outputs: outInfo, nodeCount: nodes.length };
}
