/**
 * @module Rows grouped by source and a budget split over the groups in proportion to their sizes,
 * shared by CLD's per-source budgets and CoLM's per-source facility location.
 */

/**
 * Row indices by source, in first-seen order (undefined is a source of its own).
 *
 * @example
 * ```ts
 * groupBy(["a", "b", "a"]); // Map { "a" => [0, 2], "b" => [1] }
 * ```
 */
export function groupBy(sources: readonly (string | undefined)[]): Map<string | undefined, number[]> {
  const groups = new Map<string | undefined, number[]>();
  sources.forEach((s, i) => {
    if (!groups.has(s)) groups.set(s, []);
    groups.get(s)!.push(i);
  });
  return groups;
}

/**
 * floor(B·n_c/N) per group, then +1 for the largest remainders (ties: first group) until Σ = B.
 *
 * @example
 * ```ts
 * proportionalBudgets([100, 8, 3], 10); // [9, 1, 0]
 * ```
 */
export function proportionalBudgets(sizes: readonly number[], B: number): number[] {
  const N = sizes.reduce((a, b) => a + b, 0);
  if (N === 0) return sizes.map(() => 0);
  const q = sizes.map((n) => Math.min(n, Math.floor((B * n) / N)));
  const rem = sizes.map((n, i) => ({ i, r: (B * n) / N - q[i] })).sort((a, b) => b.r - a.r || a.i - b.i);
  let left = Math.min(B, N) - q.reduce((a, b) => a + b, 0);
  while (left > 0) {
    for (const { i } of rem) {
      if (left > 0 && q[i] < sizes[i]) (q[i]++, left--);
    }
  }
  return q;
}
