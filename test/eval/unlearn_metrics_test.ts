/** Unlearning metrics on a tiny model: the original scores 0 and the "retrained" model 1 on gap closure, KL of
 * a model with itself is 0 and matches a direct computation otherwise, accuracy/exact match and the TOFU
 * splits of the project's benchmark. */
import assert from "node:assert/strict";
import { ModelRunner } from "../../src/models/runner.ts";
import { makeBatch } from "../../src/data/batch.ts";
import {
  accuracy,
  type EvalRows,
  evaluateUnlearnModel,
  klBetween,
  meanNll,
  rowOutputs,
  unlearnMetrics,
} from "../../src/eval/unlearn_metrics.ts";
import { retrainTexts, toPromptRow, unlearnBenchmark } from "../../src/build/unlearn_data.ts";
import { cfg, copy, forgetRows, retainRows, rows, weights } from "../unlearn/_fixture.ts";

const evalRows: EvalRows = {
  forget: forgetRows,
  retain: retainRows.slice(0, 6),
  holdout: rows(4, 99),
  stories: rows(2, 98, 12),
  forgetPara: rows(4, 21),
  forgetPert: [rows(4, 22), rows(4, 23)],
};

Deno.test("unlearning metrics: original → 0, retrained → 1, KL against a direct computation", async () => {
  const runner = new ModelRunner(cfg, "node");
  const w0 = weights(3), w1 = copy(w0);
  for (const v of w1.values()) v.forEach((x, i) => (v[i] = x * 0.8));
  const orig = await evaluateUnlearnModel(runner, w0, evalRows);
  const gold = await evaluateUnlearnModel(runner, w1, evalRows);
  const mo = unlearnMetrics(orig, orig, gold), mg = unlearnMetrics(gold, orig, gold);
  assert.equal(mo.klRetainToOrig, 0);
  assert.ok(Math.abs(mo.gapClosedNll) < 1e-12 && Math.abs(mo.gapClosedKl) < 1e-12);
  assert.ok(Math.abs(mg.gapClosedNll - 1) < 1e-12 && Math.abs(mg.gapClosedKl - 1) < 1e-12);
  assert.equal(mg.forgetQuality, 1); // identical truth-ratio samples
  assert.ok(mo.miaAuc >= 0 && mo.miaAuc <= 1);
  // KL(p‖q) per answer token, by hand from logits
  const lp = (await runner.logits(w0, makeBatch([forgetRows[0]]))).data as Float32Array;
  const lq = (await runner.logits(w1, makeBatch([forgetRows[0]]))).data as Float32Array;
  const V = cfg.vocabSize;
  let s = 0, n = 0;
  forgetRows[0].labels.forEach((l, t) => {
    if (l === -100) return;
    const a = lp.subarray(t * V, (t + 1) * V), b = lq.subarray(t * V, (t + 1) * V);
    const za = Math.log(a.reduce((x, v) => x + Math.exp(v), 0)),
      zb = Math.log(b.reduce((x, v) => x + Math.exp(v), 0));
    for (let v = 0; v < V; v++) s += Math.exp(a[v] - za) * (a[v] - za - (b[v] - zb));
    n++;
  });
  const one = (o: typeof orig.forget) => ({ ...o, logp: o.logp!.slice(0, 1), tokens: o.tokens.slice(0, 1) });
  assert.ok(Math.abs(klBetween(one(orig.forget), one(gold.forget)) - s / n) < 1e-5);
  // NLL and accuracy agree with the runner
  const out = await rowOutputs(runner, w0, forgetRows);
  const ls = await runner.lossSum(w0, makeBatch(forgetRows));
  assert.ok(Math.abs(meanNll(out) - ls.lossSum / ls.tokens) < 1e-4);
  const acc = accuracy(out);
  assert.ok(acc.token >= 0 && acc.token <= 1 && acc.exact <= acc.token + 1e-9);
  await runner.release();
});

Deno.test("the benchmark: TOFU rows, disjoint splits, the gold model's corpus lacks the forget people", () => {
  const b = unlearnBenchmark({ forget: 10, holdout: 5, stories: 3 });
  assert.equal(b.forget.length, 90);
  assert.equal(b.retain.length, 190 * 9);
  assert.equal(b.holdout.length, 45);
  assert.equal(b.stories.length, 3);
  for (const r of b.forget) {
    assert.ok(r.paraphrased_answer && r.perturbed_answer?.length === 3);
  }
  const forgetIds = new Set(b.forgetPeople.map((p) => p.id));
  assert.ok(b.retain.every((r) => !forgetIds.has(r.person!)));
  const texts = retrainTexts(b.forgetPeople);
  const names = b.forgetPeople.map((p) => p.name);
  // no biography or Q/A of a forget person (their names may still appear as someone else's mentor)
  for (const t of texts) {
    for (const n of names) {
      assert.ok(!t.startsWith(`${n} `) && !t.startsWith(`Question: Where was ${n} born?`));
    }
  }
  assert.deepEqual(toPromptRow({ question: "Who?", answer: "Ann." }), {
    prompt: "Question: Who?\nAnswer:",
    completion: " Ann.",
  });
});
