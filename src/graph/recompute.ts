/**
 * @module Recomputation (gradient checkpointing, Chen et al. 2016, arXiv:1604.06174, at transformer
 * block boundaries): a graph transform. The forward keeps only the block inputs (`checkpoint` nodes);
 * every backward node that read an activation inside block i reads a recomputed copy instead, built
 * from block i's input. The copies are marked so a scheduler runs them just before their first use,
 * i.e. block by block in the backward pass: activations of one block are alive at a time.
 */
import { Tensor } from "./ir.ts";
import { ancestors } from "./autodiff.ts";

/** The transformed outputs and the nodes that recompute forward activations. */
export interface Recomputed {
  outputs: Record<string, Tensor>;
  /** Recomputed copies: schedule each as late as possible (just before its first consumer). */
  late: Set<Tensor>;
  /** Number of blocks found (0: the graph has no boundaries and was returned unchanged). */
  blocks: number;
}

/**
 * Recompute block activations in the backward pass of the graph computing `outputs`.
 *
 * @example
 * ```ts ignore
 * const { outputs, late } = recompute(buildLossGraph(config).outputs);
 * ```
 */
export function recompute(outputs: Record<string, Tensor>): Recomputed {
  const all = [...ancestors(Object.values(outputs))].sort((a, b) => a.id - b.id);
  const marks = all.filter((t) => t.op === "checkpoint").sort((a, b) =>
    (a.attrs.block as number) - (b.attrs.block as number)
  );
  if (marks.length < 2) return { outputs, late: new Set(), blocks: 0 };
  // forward = everything the last boundary is computed from (the head after it is never recomputed)
  const forward = ancestors([marks[marks.length - 1]]);
  // block(t) = index of the latest boundary among t's ancestors, for forward nodes between two boundaries
  const block = new Map<Tensor, number>();
  const boundary = new Map(marks.map((m, i) => [m, i]));
  for (const t of all) {
    if (!forward.has(t) || boundary.has(t)) continue;
    let b = -1;
    for (const i of t.inputs) b = Math.max(b, boundary.get(i) ?? block.get(i) ?? -1);
    if (b >= 0) block.set(t, b);
  }
  const inBlock = (t: Tensor) => block.has(t) && !boundary.has(t);

  const late = new Set<Tensor>();
  const clones = new Map<Tensor, Tensor>();
  /** A recomputed copy of in-block node t (its in-block inputs recomputed too, the rest shared). */
  const clone = (t: Tensor): Tensor => {
    const done = clones.get(t);
    if (done) return done;
    const c = new Tensor(t.op, t.inputs.map((i) => (inBlock(i) ? clone(i) : i)), t.attrs, t.dtype, t.shape);
    clones.set(t, c);
    late.add(c);
    return c;
  };
  // backward nodes (outside the forward) read recomputed copies; rebuild them bottom-up in id order
  const rebuilt = new Map<Tensor, Tensor>();
  for (const t of all) {
    if (forward.has(t)) continue;
    const ins = t.inputs.map((i) => (inBlock(i) ? clone(i) : rebuilt.get(i) ?? i));
    rebuilt.set(
      t,
      ins.every((x, k) => x === t.inputs[k]) ? t : new Tensor(t.op, ins, t.attrs, t.dtype, t.shape),
    );
  }
  const out = Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, rebuilt.get(t) ?? t]));
  return { outputs: out, late, blocks: marks.length - 1 };
}
