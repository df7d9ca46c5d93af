/**
 * @module Seeded data order: the shuffle every training and unlearning loop draws its rows by.
 */

/**
 * Fisher–Yates shuffle of 0..n−1 from a seed (same seed → same order). Known quirk, kept so the
 * committed default model stays reproducible: seeds 0 and 1 share a stream (`seed || 1`).
 *
 * @example
 * ```ts
 * shuffledOrder(4, 42); // a permutation of [0, 1, 2, 3], the same for every call with seed 42
 * ```
 */
export function shuffledOrder(n: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  const rand = () => ((s = Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5 >>> 0) / 2 ** 32);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
