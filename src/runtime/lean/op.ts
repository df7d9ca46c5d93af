/**
 * @module What the lean executor knows of each op: whether its output is a view of an input, which
 * input it may overwrite, the scratch and side buffers it needs, and how to run it as kernel calls
 * once the memory plan has given every tensor an address. One table entry per IR op (primitives.ts,
 * fused.ts); an op without an entry is refused at compile time, by name.
 */
import type { DType, Tensor } from "../../graph/ir.ts";
import { DTYPE, type LeanKernels } from "./contract.ts";

/** Planning-time view of the graph: the kernels, concrete shapes, folded matmul operands. */
export interface ShapeEnv {
  k: LeanKernels;
  shape(t: Tensor): readonly number[];
  /** The operand a matmul reads for `t`: `t` itself, or the tensor under folded transposes. */
  operand(t: Tensor): { base: Tensor; trans: boolean };
}

/** Run-time addresses (byte offsets into the device memory), fixed by the plan. */
export interface AddrEnv extends ShapeEnv {
  /** Address of a tensor's data. */
  addr(t: Tensor): number;
  /** Address of a node's side buffer ({@link LeanOp.aux}). */
  aux(t: Tensor): number;
  /** Address of this step's scratch ({@link LeanOp.scratch}). */
  scratch: number;
  /** A host-side int64 scalar input's value (e.g. a dropout seed). */
  hostInt(t: Tensor): bigint;
}

/** One op of the lean executor. */
export interface LeanOp {
  /** The output is input `view`'s data, reinterpreted (no kernel, no storage of its own). */
  view?: number;
  /** Inputs whose storage the output may take over when this is their last use (same byte size). */
  inPlace?: (t: Tensor, env: ShapeEnv) => number[];
  /** Scratch bytes for this step (`members`: the group's nodes when `group` is set). */
  scratch?: (t: Tensor, env: ShapeEnv, members: readonly Tensor[]) => number;
  /** Bytes of a side buffer that lives as long as the output (attention's row log-sum-exp). */
  aux?: (t: Tensor, env: ShapeEnv) => number;
  /**
   * Sibling ops computed by one kernel call: nodes with the same key and the same inputs form a group
   * whose first node's `run` computes all of them (`members`, in schedule order).
   */
  group?: string;
  /** The kernel calls of the step; `members` holds the group's nodes when `group` is set. */
  build(t: Tensor, env: AddrEnv, members: readonly Tensor[]): () => void;
}

/** Kernel dtype code of an IR dtype (int64 tensors live as i32, bools as u8). */
export function dtypeCode(d: DType): number {
  switch (d) {
    case "float32":
      return DTYPE.F32;
    case "int64":
    case "int32":
      return DTYPE.I32;
    case "bool":
      return DTYPE.BOOL;
    case "uint8":
      return DTYPE.U8;
    default:
      throw new Error(`lean: dtype ${d} is not supported`);
  }
}

/** Bytes per element of an IR dtype in lean memory. */
export function elemBytes(d: DType): number {
  return d === "bool" || d === "uint8" || d === "int8" ? 1 : 4;
}

/** Row-major element strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = shape[i] === 1 ? 0 : acc;
    acc *= shape[i];
  }
  return s;
}

/** Strides that read `shape` (right-aligned, numpy broadcasting) at the positions of `outShape`. */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const own = stridesOf(shape);
  const lead = outShape.length - shape.length;
  return outShape.map((d, i) => {
    const j = i - lead;
    if (j < 0 || shape[j] === 1) return 0;
    if (shape[j] !== d) throw new Error(`lean: cannot broadcast [${shape}] to [${outShape}]`);
    return own[j];
  });
}

/** Number of elements of a shape. */
export const numelOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The lean op table (filled by primitives.ts and fused.ts). */
export const LEAN_OPS: Record<string, LeanOp> = {};
