/**
 * @module Reverse-mode autodiff over the IR.
 *
 * `grad(y, wrt)` walks the nodes between `wrt` and `y` in reverse creation order (creation order
 * is topological), applies each op's VJP from the op table and sums cotangents. The result is
 * ordinary IR, so it can be differentiated again: `grad(sum(grad(y, w) · v), w)` is a
 * Hessian-vector product.
 */
import { isFloat, type Tensor } from "./ir.ts";
import { add, constant, expandLike, mul, OPS, reduceSum } from "./ops.ts";

/** Nodes reachable from `root` through inputs (including `root`). */
export function ancestors(roots: readonly Tensor[]): Set<Tensor> {
  const seen = new Set<Tensor>();
  const stack = [...roots];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push(...t.inputs);
  }
  return seen;
}

/**
 * Gradients of `y` with respect to each tensor of `wrt` (undefined where `y` does not depend on it).
 * `seed` is the cotangent of `y` (default: ones, so a scalar loss gets d loss / d w).
 *
 * @example
 * ```ts
 * import { input, mul, reduceSum } from "./ops.ts";
 * const x = input("x", "float32", [3]);
 * const [gx] = grad(reduceSum(mul(x, x), [0]), [x]); // 2x
 * ```
 */
export function grad(y: Tensor, wrt: readonly Tensor[], seed?: Tensor): (Tensor | undefined)[] {
  // Nodes on a path wrt → y: ancestors of y that have a wrt node among their ancestors.
  const up = ancestors([y]);
  const onPath = new Set<Tensor>(wrt.filter((w) => up.has(w)));
  const order = [...up].sort((a, b) => a.id - b.id);
  for (const t of order) if (!onPath.has(t) && t.inputs.some((i) => onPath.has(i))) onPath.add(t);

  const cot = new Map<Tensor, Tensor>();
  cot.set(y, seed ?? expandLike(constant(1, [], y.dtype), y));
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k];
    const g = cot.get(t);
    if (!g || !onPath.has(t) || t.inputs.length === 0) continue;
    const def = OPS[t.op];
    if (!def.vjp) {
      if (t.inputs.some((i) => onPath.has(i) && isFloat(i.dtype))) {
        throw new Error(`op ${t.op} has no VJP but a gradient must flow through ${t}`);
      }
      continue;
    }
    const gs = def.vjp(g, t);
    t.inputs.forEach((x, i) => {
      const gi = gs[i];
      if (!gi || !onPath.has(x) || !isFloat(x.dtype)) return;
      const prev = cot.get(x);
      cot.set(x, prev ? add(prev, gi) : gi);
    });
  }
  return wrt.map((w) => cot.get(w));
}

/** Σᵢ aᵢ·bᵢ over all elements of paired tensors (a scalar), e.g. gᵀv for an HVP. */
export function dot(as: readonly Tensor[], bs: readonly Tensor[]): Tensor {
  let s: Tensor | undefined;
  as.forEach((a, i) => {
    const p = reduceSum(mul(a, bs[i]), a.shape.map((_, j) => j));
    s = s ? add(s, p) : p;
  });
  if (!s) throw new Error("dot of no tensors");
  return s;
}
