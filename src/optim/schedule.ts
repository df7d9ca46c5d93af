/**
 * @module Learning-rate schedules with linear warm-up, as transformers' `get_scheduler`:
 * `constant`, `linear` (to 0 at the last step) and `cosine` (half a cosine to 0). The factor for
 * optimizer step `s` (0-based) is the one HF's LambdaLR applies to that step.
 */

/** Schedule names. */
export const SCHEDULES = ["constant", "linear", "cosine"] as const;
/** A schedule name. */
export type Schedule = typeof SCHEDULES[number];

/**
 * Learning rate of 0-based optimizer step `step` out of `total`, with `warmup` warm-up steps.
 *
 * @example
 * ```ts
 * lrAt("cosine", 1e-3, 0, 100, 10); // 0 (first warm-up step, as HF)
 * lrAt("cosine", 1e-3, 10, 100, 10); // 1e-3
 * ```
 */
export function lrAt(schedule: Schedule, lr: number, step: number, total: number, warmup: number): number {
  if (step < warmup) return (lr * step) / Math.max(1, warmup);
  if (schedule === "constant") return lr;
  const progress = (step - warmup) / Math.max(1, total - warmup);
  if (schedule === "linear") return lr * Math.max(0, 1 - progress);
  return lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
