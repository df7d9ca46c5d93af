/**
 * @module Scheduling for the lean executor: the order nodes run in, and every node's concrete shape
 * once the inputs' shapes are known. The order is creation order (a topological order in which the
 * backward pass runs block by block), except that recomputed nodes run as late as possible — just
 * before their first consumer — so a block's activations exist only while its backward runs.
 */
import { ancestors } from "../../graph/autodiff.ts";
import { type DType, Tensor } from "../../graph/ir.ts";
import { OPS } from "../../graph/ops.ts";

/**
 * The nodes computing `outputs` in execution order; `late` nodes are placed just before their first
 * consumer (their keys sit between the consumer's and its predecessor's).
 *
 * @example
 * ```ts ignore
 * const order = schedule(Object.values(outputs), recomputed.late);
 * ```
 */
export function schedule(outputs: readonly Tensor[], late: ReadonlySet<Tensor> = new Set()): Tensor[] {
  const nodes = [...ancestors(outputs)];
  if (late.size === 0) return nodes.sort((a, b) => a.id - b.id);
  const consumers = new Map<Tensor, Tensor[]>();
  for (const t of nodes) for (const i of t.inputs) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(t);
  const key = new Map<Tensor, number>();
  for (const t of nodes) if (!late.has(t)) key.set(t, t.id);
  // late nodes in reverse creation order: their consumers' keys are known by then
  const lateNodes = nodes.filter((t) => late.has(t)).sort((a, b) => b.id - a.id);
  for (const t of lateNodes) {
    const first = Math.min(...(consumers.get(t) ?? []).map((c) => key.get(c)!));
    if (!Number.isFinite(first)) throw new Error(`schedule: recomputed node ${t} has no consumer`);
    key.set(t, first - 1e-6);
  }
  const order = nodes.sort((a, b) => key.get(a)! - key.get(b)! || a.id - b.id);
  const at = new Map(order.map((t, i) => [t, i]));
  for (const t of order) {
    for (const i of t.inputs) {
      if (at.get(i)! >= at.get(t)!) throw new Error(`schedule: ${t} would run before its input ${i}`);
    }
  }
  return order;
}

/**
 * Concrete shapes of every node in `order`, given the inputs' shapes (static inputs and constants keep
 * their own): each op's shape rule from the op table, run on stand-ins with numeric dims.
 *
 * @example
 * ```ts ignore
 * const shapes = concreteShapes(order, new Map([[ids, [4, 128]]]));
 * ```
 */
export function concreteShapes(
  order: readonly Tensor[],
  inputShapes: ReadonlyMap<string, readonly number[]>,
): Map<Tensor, number[]> {
  const shapes = new Map<Tensor, number[]>();
  const standIn = new Map<Tensor, Tensor>();
  for (const t of order) {
    let shape: number[];
    if (t.op === "input") {
      const fed = inputShapes.get(t.inputName!);
      if (!fed) throw new Error(`lean: no shape for graph input ${t.inputName}`);
      if (fed.length !== t.rank || t.shape.some((d, i) => typeof d === "number" && d !== fed[i])) {
        throw new Error(`lean: input ${t.inputName} has shape [${fed}], the graph declares [${t.shape}]`);
      }
      shape = [...fed];
    } else if (t.op === "const") {
      shape = t.shape as number[];
    } else {
      const r = OPS[t.op].infer(t.inputs.map((i) => standIn.get(i)!), t.attrs);
      shape = r.shape as number[];
    }
    if (shape.some((d) => typeof d !== "number" || !Number.isInteger(d) || d < 0)) {
      throw new Error(`lean: cannot resolve the shape of ${t} (got [${shape}])`);
    }
    shapes.set(t, shape);
    standIn.set(t, new Tensor(t.op, [], t.attrs, t.dtype as DType, shape));
  }
  return shapes;
}

/** Number of elements of a concrete shape. */
export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
