/** KS test against scipy.stats.ks_2samp (exact), AUC and truth-ratio aggregates. */
import assert from "node:assert/strict";
import { auc, ksTest, truthRatio, truthRatioAggregates } from "../../src/eval/unlearn_stats.ts";

// fixture: scipy 1.x `ks_2samp(a, b, method="exact")` on seeded uniform samples (test/eval/_ks_fixture.json)
const cases = JSON.parse(await Deno.readTextFile(new URL("./_ks_fixture.json", import.meta.url))) as {
  a: number[];
  b: number[];
  statistic: number;
  pvalue: number;
}[];

Deno.test("ksTest matches scipy ks_2samp (exact two-sided)", () => {
  for (const c of cases) {
    const r = ksTest(c.a, c.b);
    assert.ok(Math.abs(r.statistic - c.statistic) < 1e-12, `D ${r.statistic} vs ${c.statistic}`);
    assert.ok(Math.abs(r.pvalue - c.pvalue) <= 1e-6 + 1e-4 * c.pvalue, `p ${r.pvalue} vs ${c.pvalue}`);
  }
  assert.equal(ksTest([1, 2, 3], [1, 2, 3]).pvalue, 1);
});

Deno.test("AUC and truth ratio", () => {
  assert.equal(auc([3, 4], [1, 2]), 1);
  assert.equal(auc([1, 2], [1, 2]), 0.5);
  assert.equal(auc([1], [2]), 0);
  // wrong answers as likely as the right one → TR 1; right answer far likelier → TR ≪ 1
  assert.ok(Math.abs(truthRatio(1, [1, 1, 1]) - 1) < 1e-9);
  assert.ok(truthRatio(0.1, [3, 4, 5]) < 0.05);
  const agg = truthRatioAggregates([1, 0.5, 2]);
  assert.ok(Math.abs(agg.closerToOne - (1 + 0.5 + 0.5) / 3) < 1e-6);
  assert.ok(Math.abs(agg.trueBetter - 0.5 / 3) < 1e-9);
});
