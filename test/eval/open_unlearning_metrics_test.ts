/** open-unlearning's metrics, each against a case computed by hand: exact memorization, extraction strength,
 * ROUGE-L, Min-K%++ (token z-score, row score, AUC), privleak, model utility (harmonic mean), forget quality
 * (KS p-value of truth ratios); and the per-token figures `rowOutputs` keeps against the logits. */
import assert from "node:assert/strict";
import { exactMemorization, extractionStrength, lcsLength, rougeL } from "../../src/eval/memorization.ts";
import { miaAuc, minKppScore, minKppToken, privleak } from "../../src/eval/mia.ts";
import { harmonicMean, ksTest, truthRatio } from "../../src/eval/unlearn_stats.ts";
import {
  type EvalRows,
  evaluateUnlearnModel,
  promptAndAnswer,
  rowOutputs,
  unlearnMetrics,
} from "../../src/eval/unlearn_metrics.ts";
import { Generator } from "../../src/models/generate.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import { makeBatch } from "../../src/data/batch.ts";
import { cfg, copy, forgetRows, retainRows, rows, weights } from "../unlearn/_fixture.ts";

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

Deno.test("exact memorization and extraction strength of hand-made argmax hits", () => {
  close(exactMemorization([1, 0, 1, 1]), 3 / 4);
  close(exactMemorization([0, 0]), 0);
  close(extractionStrength([1, 1, 1, 1]), 1); // k* = 0
  close(extractionStrength([0, 1, 1, 1]), 1 - 1 / 4); // suffix from offset 1
  close(extractionStrength([1, 0, 0, 1]), 1 - 3 / 4); // only the last token: k* = 3
  close(extractionStrength([1, 1, 0, 0]), 1 - 3 / 4); // no exact suffix: open-unlearning's loop ends at k = 3
  assert.throws(() => extractionStrength([]), /without answer tokens/);
});

Deno.test("ROUGE-L: LCS recall, precision and F1 of token lists", () => {
  assert.equal(lcsLength([1, 2, 3, 4, 5], [2, 9, 4, 5]), 3); // 2, 4, 5
  const r = rougeL([1, 2, 3, 4], [1, 3, 4, 9, 9]); // LCS 1, 3, 4
  close(r.recall, 3 / 4);
  close(r.precision, 3 / 5);
  close(r.f1, (2 * 0.75 * 0.6) / 1.35);
  assert.deepEqual(rougeL([1, 2], []), { recall: 0, precision: 0, f1: 0 });
});

Deno.test("Min-K%++: token z-score, the row's bottom-k score, AUC and privleak by hand", () => {
  // p = (0.7, 0.2, 0.1), label 1: μ = Σ p ln p = −0.801819, E[(ln p)²] = 1.137300, z = (ln 0.2 − μ)/σ
  const z = minKppToken([0.7, 0.2, 0.1].map(Math.log), 1);
  close(z, -1.1486118263541842, 1e-12);
  // a one-hot prediction has σ² = 0, floored at 1e-6
  close(minKppToken([0, -200, -200], 0), 0, 1e-6);
  close(minKppScore([3, -1, 2, 0, 1], 0.4), 0.5); // −mean of the 2 lowest (−1, 0)
  close(minKppScore([2], 0.4), -2); // at least one token
  // forget scores 1, 2 against holdout 1.5, 3: holdout above forget in 3 of 4 pairs
  close(miaAuc([1, 2], [1.5, 3]), 0.75);
  close(miaAuc([1, 2], [1, 2]), 0.5);
  close(privleak(0.9, 0.6), ((0.1 - 0.4) / 0.4) * 100); // −75
  close(privleak(0.6, 0.6), 0);
  assert.ok(Number.isNaN(privleak(0.9, 1)));
});

Deno.test("model utility is the harmonic mean; forget quality is the KS p-value of truth ratios", () => {
  close(harmonicMean([0.5, 1]), 2 / 3);
  close(harmonicMean([0.8, 0.5, 0.25]), 3 / (1 / 0.8 + 2 + 4));
  assert.equal(harmonicMean([0.3, 0]), 0);
  assert.throws(() => harmonicMean([]), /no values/);
  // truth ratio exp(−wrong)/exp(−correct): correct avg NLL 1, wrong 2 and 4 → e^−3 / e^−1
  close(truthRatio(1, [2, 4]), Math.exp(-3) / (Math.exp(-1) + 1e-10), 1e-12);
  // fully separated samples of 3 and 3: D = 1, exact two-sided p = 2 / C(6, 3) = 0.1 (scipy ks_2samp)
  const ks = ksTest([0.1, 0.2, 0.3], [0.4, 0.5, 0.6]);
  assert.equal(ks.statistic, 1);
  close(ks.pvalue, 0.1, 1e-12);
});

Deno.test("rowOutputs keeps argmax hits and Min-K%++ z per answer token, as computed from the logits", async () => {
  const runner = new ModelRunner(cfg, "node");
  const w = weights(3), e = forgetRows[1];
  const out = await rowOutputs(runner, w, [e]);
  const logits = (await runner.logits(w, makeBatch([e]))).data as Float32Array, V = cfg.vocabSize;
  const hits: number[] = [], z: number[] = [];
  e.labels.forEach((l, t) => {
    if (l === -100) return;
    const row = Array.from(logits.subarray(t * V, (t + 1) * V));
    const lse = Math.log(row.reduce((s, x) => s + Math.exp(x), 0));
    const lp = row.map((x) => x - lse);
    hits.push(row.indexOf(Math.max(...row)) === l ? 1 : 0);
    z.push(minKppToken(lp, l));
  });
  assert.deepEqual([...out.hits[0]], hits);
  out.zpp[0].forEach((x, i) => close(x, z[i], 1e-4));
  assert.deepEqual(promptAndAnswer(e).answer, Array.from(e.labels).filter((l) => l !== -100));
  await runner.release();
});

Deno.test("unlearnMetrics: privleak 0 for the retrained model, utility = HM of the retain figures", async () => {
  const runner = new ModelRunner(cfg, "node"), gen = new Generator(cfg, "node");
  const d: EvalRows = {
    forget: forgetRows,
    retain: retainRows.slice(0, 4),
    holdout: rows(4, 99),
    stories: [],
    forgetPara: rows(4, 21),
    forgetPert: [rows(4, 22), rows(4, 23)],
    retainPara: retainRows.slice(0, 4),
    retainPert: [rows(4, 24), rows(4, 25)],
  };
  const w0 = weights(3), w1 = copy(w0);
  for (const v of w1.values()) v.forEach((x, i) => (v[i] = x * 0.8));
  const orig = await evaluateUnlearnModel(runner, w0, d, gen);
  const gold = await evaluateUnlearnModel(runner, w1, d, gen);
  const mg = unlearnMetrics(gold, orig, gold), mo = unlearnMetrics(orig, orig, gold);
  close(mg.privleak, 0, 1e-9);
  assert.equal(mg.forgetQuality, 1);
  close(mo.modelUtility, harmonicMean([mo.retainProb, mo.retainRouge!, mo.truthRatioRetain!]), 1e-12);
  assert.ok(mo.exactMemorization >= 0 && mo.exactMemorization <= 1);
  assert.ok(mo.extractionStrength > 0 && mo.extractionStrength <= 1);
  // greedy answers reproduce the teacher-forced argmax where the whole answer is argmax-exact
  orig.forget.hits.forEach((h, i) => {
    if (h.every((x) => x === 1)) assert.equal(orig.rougeForget[i], 1);
  });
  await gen.release();
  await runner.release();
});
