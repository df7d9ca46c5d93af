/**
 * @module Statistics of the unlearning evaluation (algorithms.md §10; locuslab/open-unlearning
 * `src/evals/metrics/*.py`):
 * - truth ratio (TOFU): TR = exp(−mean_j avg_loss(wrong_j)) / exp(−avg_loss(correct)); forget aggregate
 *   mean min(TR, 1/TR) ("closer to 1 is better"), retain aggregate mean max(0, 1 − TR) ("true better").
 * - forget quality: p-value of the two-sample Kolmogorov–Smirnov test between the forget truth ratios of the
 *   unlearned model and of the retrained model (scipy `ks_2samp`, two-sided; exact lattice-path count as
 *   scipy's `method="exact"` up to 10 000 combined samples, asymptotic Kolmogorov distribution beyond).
 * - membership-inference AUC: Mann–Whitney AUC of "member" scores against "non-member" scores (ties ½).
 * - model utility (TOFU): the harmonic mean of utility figures.
 */

/** Per-sample truth ratio from the correct answer's and the wrong answers' average token NLLs. */
export function truthRatio(correctAvg: number, wrongAvgs: readonly number[]): number {
  const wrong = wrongAvgs.reduce((a, b) => a + b, 0) / wrongAvgs.length;
  return Math.exp(-wrong) / (Math.exp(-correctAvg) + 1e-10);
}

/**
 * TOFU's aggregates of per-sample truth ratios.
 *
 * @example
 * ```ts
 * truthRatioAggregates([1, 0.5]); // { closerToOne: 0.75, trueBetter: 0.25 }
 * ```
 */
export function truthRatioAggregates(tr: readonly number[]): { closerToOne: number; trueBetter: number } {
  const mean = (f: (x: number) => number) => tr.reduce((a, x) => a + f(x), 0) / tr.length;
  return {
    closerToOne: mean((x) => Math.min(x, 1 / (x + 1e-10))),
    trueBetter: mean((x) => Math.max(0, 1 - x)),
  };
}

/** Two-sided two-sample KS statistic D = sup |F_a − F_b|. */
export function ksStatistic(a: readonly number[], b: readonly number[]): number {
  const x = [...a].sort((p, q) => p - q), y = [...b].sort((p, q) => p - q);
  let i = 0, j = 0, d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j]);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/** P(D ≥ d) under H0 for sample sizes m, n: 1 − (paths staying strictly inside |i/m − j/n| < d) / C(m+n, m). */
function ksExactP(d: number, m: number, n: number): number {
  // probabilities instead of counts: each step from (i, j) goes right with prob (m−i)/(m+n−i−j)
  const tol = 1e-12;
  let row = new Float64Array(n + 1);
  row[0] = 1;
  for (let j = 1; j <= n; j++) {
    row[j] = Math.abs(j / n) < d - tol ? row[j - 1] * (n - j + 1) / (m + n - j + 1) : 0;
  }
  for (let i = 1; i <= m; i++) {
    const next = new Float64Array(n + 1);
    for (let j = 0; j <= n; j++) {
      if (Math.abs(i / m - j / n) >= d - tol) continue;
      const left = m + n - (i - 1) - j; // remaining steps at (i−1, j)
      let p = row[j] * (m - i + 1) / left;
      if (j > 0) p += next[j - 1] * (n - j + 1) / (m + n - i - (j - 1));
      next[j] = p;
    }
    row = next;
  }
  return Math.min(1, Math.max(0, 1 - row[n]));
}

/** Kolmogorov distribution tail Q(λ) = 2 Σ (−1)^{k−1} e^{−2k²λ²}. */
function kolmogorovQ(l: number): number {
  if (l < 1e-3) return 1;
  let s = 0;
  for (let k = 1; k < 100; k++) s += (k % 2 ? 2 : -2) * Math.exp(-2 * k * k * l * l);
  return Math.min(1, Math.max(0, s));
}

/**
 * Two-sample two-sided KS test.
 *
 * @example
 * ```ts
 * ksTest([0.1, 0.2, 0.3], [0.15, 0.25, 0.35]).pvalue; // 1 (scipy ks_2samp gives 1.0)
 * ```
 */
export function ksTest(a: readonly number[], b: readonly number[]): { statistic: number; pvalue: number } {
  if (a.length === 0 || b.length === 0) throw new Error("ksTest: empty sample");
  const d = ksStatistic(a, b), m = a.length, n = b.length;
  if (m + n <= 10_000) return { statistic: d, pvalue: ksExactP(d, m, n) };
  const en = Math.sqrt((m * n) / (m + n));
  return { statistic: d, pvalue: kolmogorovQ((en + 0.12 + 0.11 / en) * d) };
}

/**
 * AUC of separating `pos` (higher score = member) from `neg`; 0.5 = chance.
 *
 * @example
 * ```ts
 * auc([3, 4], [1, 2]); // 1
 * ```
 */
export function auc(pos: readonly number[], neg: readonly number[]): number {
  let s = 0;
  for (const p of pos) for (const q of neg) s += p > q ? 1 : p === q ? 0.5 : 0;
  return s / (pos.length * neg.length);
}

/**
 * Harmonic mean (open-unlearning's `hm_aggregate` for model utility; scipy `hmean`): 0 if any value is 0.
 *
 * @example
 * ```ts
 * harmonicMean([0.5, 1]); // 0.666…
 * ```
 */
export function harmonicMean(values: readonly number[]): number {
  if (values.length === 0) throw new Error("harmonicMean: no values");
  if (values.some((v) => !(v >= 0))) throw new Error(`harmonicMean: values must be ≥ 0, got ${values}`);
  if (values.some((v) => v === 0)) return 0;
  return values.length / values.reduce((a, v) => a + 1 / v, 0);
}
