/**
 * @module Memorization metrics as open-unlearning defines them (`src/evals/metrics/memorization.py`; TOFU,
 * MUSE), on one row's answer tokens:
 * - exact memorization: share of answer tokens whose teacher-forced argmax is the answer token
 *   (`(preds == labels).sum() / valid_len`), averaged over rows.
 * - extraction strength (Carlini et al. 2021, open-unlearning `extraction_strength`): 1 − k* /|y| with k* the
 *   smallest offset from which every teacher-forced argmax equals the answer (k* = |y| − 1 when only the last
 *   token or none matches: the loop's last k).
 * - ROUGE-L (Lin 2004): LCS of the greedy continuation and the answer; recall = LCS/|answer|, F1 with
 *   precision LCS/|generated|. On token ids (open-unlearning: stemmed words of the decoded text).
 */

/**
 * Exact memorization of one row: the share of positions where the argmax was the answer (`hits[t]` = 1).
 *
 * @example
 * ```ts
 * exactMemorization(Uint8Array.of(1, 0, 1, 1)); // 0.75
 * ```
 */
export function exactMemorization(hits: ArrayLike<number>): number {
  if (hits.length === 0) throw new Error("exactMemorization: a row without answer tokens");
  let s = 0;
  for (let i = 0; i < hits.length; i++) s += hits[i] ? 1 : 0;
  return s / hits.length;
}

/**
 * Extraction strength of one row: 1 − k* /|y|, k* the first offset whose suffix is predicted exactly.
 *
 * @example
 * ```ts
 * extractionStrength(Uint8Array.of(0, 1, 1, 1)); // 0.75: the suffix from offset 1 is extracted
 * extractionStrength(Uint8Array.of(1, 1, 0, 0)); // 0.25: no suffix matches, k* = |y| − 1
 * ```
 */
export function extractionStrength(hits: ArrayLike<number>): number {
  const n = hits.length;
  if (n === 0) throw new Error("extractionStrength: a row without answer tokens");
  // open-unlearning loops k = 0..n−1 and breaks at the first exact suffix; without a break k ends at n − 1
  let k = n - 1;
  let allFromHere = true;
  const ok = new Array<boolean>(n);
  for (let t = n - 1; t >= 0; t--) {
    allFromHere = allFromHere && !!hits[t];
    ok[t] = allFromHere;
  }
  for (let t = 0; t < n; t++) {
    if (ok[t]) {
      k = t;
      break;
    }
  }
  return 1 - k / n;
}

/** Length of the longest common subsequence of two token lists. */
export function lcsLength(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let prev = new Int32Array(b.length + 1), cur = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

/**
 * ROUGE-L of a generated token list against the reference: recall LCS/|ref|, precision LCS/|gen|, F1.
 *
 * @example
 * ```ts
 * rougeL([1, 2, 3, 4], [1, 3, 4, 9, 9]); // { recall: 0.75, precision: 0.6, f1: 0.666… }
 * ```
 */
export function rougeL(
  reference: ArrayLike<number>,
  generated: ArrayLike<number>,
): { recall: number; precision: number; f1: number } {
  const l = lcsLength(reference, generated);
  const recall = reference.length ? l / reference.length : 0;
  const precision = generated.length ? l / generated.length : 0;
  return {
    recall,
    precision,
    f1: recall + precision > 0 ? (2 * recall * precision) / (recall + precision) : 0,
  };
}
