/**
 * @module Graph IR: immutable tensor nodes with static or symbolic dims.
 *
 * A `Tensor` is a node of a DAG: an op name, its inputs, attributes, dtype and shape. Dims are
 * numbers (static) or strings (symbolic: "B", "T", "B*T"). Ops, their shape rules, ONNX lowerings
 * and VJPs live in one table, `ops.ts`; this file only holds the node type and shape helpers.
 */

/** Element types the IR uses. */
export type DType = "float32" | "float16" | "int64" | "int32" | "int8" | "uint8" | "bool";
/** A static size or a symbolic name ("B", "T", "B*T"). */
export type Dim = number | string;
/** Attribute values an op may carry. */
export type AttrValue = number | string | boolean | number[] | Dim[] | Float32Array | BigInt64Array;
/** Attributes of a node. */
export type Attrs = Record<string, AttrValue | undefined>;

let nextId = 0;

/** One node of the graph. Create nodes with the op functions of `ops.ts`, never directly. */
export class Tensor {
  /** Unique id, increasing in creation order (a valid topological order). */
  readonly id: number = nextId++;
  constructor(
    readonly op: string,
    readonly inputs: readonly Tensor[],
    readonly attrs: Readonly<Attrs>,
    readonly dtype: DType,
    readonly shape: readonly Dim[],
  ) {}

  /** Rank (number of dims). */
  get rank(): number {
    return this.shape.length;
  }

  /** Name of a graph input (`op === "input"`), else undefined. */
  get inputName(): string | undefined {
    return this.op === "input" ? String(this.attrs.name) : undefined;
  }

  /** Dim at `axis` (negative counts from the end). */
  dim(axis: number): Dim {
    return this.shape[normAxis(axis, this.rank)];
  }

  toString(): string {
    return `${this.op}#${this.id}[${this.shape.join(",")}]:${this.dtype}`;
  }
}

/** Map a possibly negative axis into [0, rank). */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new RangeError(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** True when two dims are known to be equal. */
export function dimEq(a: Dim, b: Dim): boolean {
  return a === b;
}

/** Numpy broadcasting of two shapes; symbolic dims broadcast against 1 and match by name. */
export function broadcastShapes(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x === 1) out.push(y);
    else if (y === 1 || x === y) out.push(x);
    else if (typeof x === "number" && typeof y === "number") {
      throw new RangeError(`cannot broadcast [${a}] with [${b}]`);
    } else out.push(typeof x === "number" ? x : y);
  }
  return out;
}

/** Product of dims: a number when all are static, else a symbolic "a*b" string. */
export function dimProduct(dims: readonly Dim[]): Dim {
  let n = 1;
  const sym: string[] = [];
  for (const d of dims) typeof d === "number" ? (n *= d) : sym.push(d);
  if (sym.length === 0) return n;
  return n === 1 ? sym.join("*") : [String(n), ...sym].join("*");
}

/** Number of elements of a static shape (throws on symbolic dims). */
export function numel(shape: readonly Dim[]): number {
  const p = dimProduct(shape);
  if (typeof p !== "number") throw new TypeError(`shape [${shape}] is not static`);
  return p;
}

/** True for floating-point dtypes (the ones gradients flow through). */
export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float16";
}
