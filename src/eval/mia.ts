/**
 * @module Membership inference as open-unlearning defines it (`src/evals/metrics/mia/min_k_plus_plus.py`,
 * `mia/utils.py`, `privacy.py`; MUSE's privleak):
 * - Min-K%++ (Zhang et al. 2024): per answer token z_t = (log p(y_t) − μ_t)/σ_t with μ_t = Σ_v p_v log p_v and
 *   σ_t² = Σ_v p_v (log p_v)² − μ_t² (floored at 1e-6); the row's score is −mean of its lowest ⌊k·n⌋ (≥ 1)
 *   z_t, k = 0.4 (higher = less likely a member).
 * - AUC: forget rows labelled 0, holdout rows 1, roc_auc_score of the scores: 1 when the forget rows are
 *   much more likely than the holdout rows (members), 0.5 when indistinguishable.
 * - privleak = ((1 − AUC) − (1 − AUC_retrained)) / (1 − AUC_retrained) · 100: 0 = like the retrained model,
 *   −100 = members fully exposed (AUC 1 vs 0.5), > 0 = the forget rows look less like members than retraining
 *   leaves them (over-unlearning).
 */
import { auc } from "./unlearn_stats.ts";

/** Min-K%++'s default k (open-unlearning `MinKPlusPlusAttack`, MUSE configs). */
export const MINK_K = 0.4;

/**
 * Min-K%++ z-score of one answer position from its log-probabilities `logp` (length V) and the label.
 *
 * @example
 * ```ts
 * minKppToken(Float32Array.of(Math.log(0.5), Math.log(0.5)), 0); // 0: μ = log ½, z = 0
 * ```
 */
export function minKppToken(logp: ArrayLike<number>, label: number): number {
  let mu = 0, m2 = 0;
  for (let v = 0; v < logp.length; v++) {
    const p = Math.exp(logp[v]);
    mu += p * logp[v];
    m2 += p * logp[v] * logp[v];
  }
  const sigma2 = Math.max(m2 - mu * mu, 1e-6);
  return (logp[label] - mu) / Math.sqrt(sigma2);
}

/**
 * A row's Min-K%++ attack score from its per-token z-scores: −mean of the lowest ⌊k·n⌋ (at least 1).
 *
 * @example
 * ```ts
 * minKppScore([3, -1, 2, 0, 1], 0.4); // −mean(−1, 0) = 0.5
 * ```
 */
export function minKppScore(z: ArrayLike<number>, k = MINK_K): number {
  if (z.length === 0) return 0;
  const sorted = Array.from(z).sort((a, b) => a - b);
  const n = Math.max(1, Math.floor(sorted.length * k));
  return -sorted.slice(0, n).reduce((a, x) => a + x, 0) / n;
}

/**
 * Membership AUC of attack scores (higher = non-member): 1 when every forget row scores below every holdout row.
 *
 * @example
 * ```ts
 * miaAuc([0.1, 0.2], [0.5, 0.6]); // 1
 * ```
 */
export function miaAuc(forgetScores: readonly number[], holdoutScores: readonly number[]): number {
  return auc(holdoutScores, forgetScores);
}

/**
 * privleak of an AUC against the retrained model's AUC on the same rows.
 *
 * @example
 * ```ts
 * privleak(1, 0.5); // −100
 * privleak(0.5, 0.5); // 0
 * ```
 */
export function privleak(aucModel: number, aucRetrained: number): number {
  const ref = 1 - aucRetrained;
  return ref > 0 ? ((1 - aucModel - ref) / ref) * 100 : NaN;
}
