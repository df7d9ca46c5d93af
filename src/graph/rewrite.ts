/**
 * @module Graph rewriting: rebuild the nodes above some tensors with those tensors replaced. Nodes are
 * immutable, so a rewrite clones every node that (transitively) reads a replaced tensor and reuses the
 * rest. Used by fused ops (a VJP built over placeholders, then bound to the real inputs) and by the
 * recomputation transform.
 */
import { Tensor } from "./ir.ts";

/**
 * `roots` with every tensor in `map`'s keys replaced by its value (shapes and dtypes must agree).
 *
 * @example
 * ```ts
 * import { input, mul } from "./ops.ts";
 * const x = input("x", "float32", [2]), y = input("y", "float32", [2]);
 * const [z] = substitute([mul(x, x)], new Map([[x, y]])); // y·y
 * ```
 */
export function substitute(roots: readonly Tensor[], map: ReadonlyMap<Tensor, Tensor>): Tensor[] {
  const memo = new Map<Tensor, Tensor>(map);
  const visit = (t: Tensor): Tensor => {
    const done = memo.get(t);
    if (done) return done;
    // iterative post-order: graphs are deep (thousands of nodes along the layers)
    const stack: Tensor[] = [t];
    while (stack.length) {
      const n = stack[stack.length - 1];
      if (memo.has(n)) {
        stack.pop();
        continue;
      }
      const pending = n.inputs.filter((i) => !memo.has(i));
      if (pending.length) {
        stack.push(...pending);
        continue;
      }
      stack.pop();
      const ins = n.inputs.map((i) => memo.get(i)!);
      memo.set(
        n,
        ins.every((x, k) => x === n.inputs[k]) ? n : new Tensor(n.op, ins, n.attrs, n.dtype, n.shape),
      );
    }
    return memo.get(t)!;
  };
  return roots.map(visit);
}
