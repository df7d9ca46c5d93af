/** CLD: scores against a direct computation, top-k budgets, and an end-to-end run on a tiny model. */
import assert from "node:assert/strict";
import { cldAlign, cldScores, cldSelect, pearson, topK } from "../../src/coreset/cld.ts";
import { proportionalBudgets } from "../../src/coreset/budgets.ts";
import { RowLossRunner } from "../../src/coreset/row_loss.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import { initParams } from "../../src/models/params.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { makeBatch } from "../../src/data/batch.ts";
import type { Example } from "../../src/data/example.ts";
import { tinyLlama } from "../models/_tiny.ts";
import { assertClose, rng } from "../_util.ts";

/** Pearson with population std, written out independently of the module. */
function corr(a: number[], b: number[]): number {
  const n = a.length, ma = a.reduce((s, x) => s + x) / n, mb = b.reduce((s, x) => s + x) / n;
  const cov = a.reduce((s, x, i) => s + (x - ma) * (b[i] - mb), 0) / n;
  const sa = Math.sqrt(a.reduce((s, x) => s + (x - ma) ** 2, 0) / n);
  const sb = Math.sqrt(b.reduce((s, x) => s + (x - mb) ** 2, 0) / n);
  return sa === 0 || sb === 0 ? 0 : cov / (sa * sb);
}
const diff = (x: number[]) => x.slice(1).map((v, i) => v - x[i]);

Deno.test("CLD score equals a direct computation on a hand-made trajectory (per-source curves)", () => {
  // 5 checkpoints; train rows × losses over time, val rows of sources a and b
  const trainCurves = [
    [3.0, 2.0, 1.6, 1.5, 1.45], // source a: falls like a's validation curve
    [3.0, 2.9, 2.0, 1.2, 1.1], // source a: falls late
    [2.0, 2.0, 2.0, 2.0, 2.0], // source a: flat → score 0
    [1.0, 1.5, 1.2, 1.1, 1.6], // source b
    [4.0, 3.1, 2.9, 2.2, 2.0], // no source → global curve
    [4.0, 3.1, 2.9, 2.2, 2.0], // source "c" without validation rows → global curve
  ];
  const trainSources = ["a", "a", "a", "b", undefined, "c"];
  const valCurves = [[2.5, 1.9, 1.7, 1.6, 1.58], [2.7, 2.0, 1.8, 1.7, 1.6], [1.0, 1.4, 1.1, 1.2, 1.5]];
  const valSources = ["a", "a", "b"];
  const E = 5;
  const traj = {
    train: Array.from({ length: E }, (_, e) => trainCurves.map((c) => c[e])),
    val: Array.from({ length: E }, (_, e) => valCurves.map((c) => c[e])),
  };
  const got = cldScores(traj, trainSources, valSources);
  const meanCurve = (rows: number[]) =>
    Array.from({ length: E }, (_, e) => rows.reduce((s, v) => s + valCurves[v][e], 0) / rows.length);
  const curveA = diff(meanCurve([0, 1])), curveB = diff(meanCurve([2])), global = diff(meanCurve([0, 1, 2]));
  const want = [
    corr(diff(trainCurves[0]), curveA),
    corr(diff(trainCurves[1]), curveA),
    0,
    corr(diff(trainCurves[3]), curveB),
    corr(diff(trainCurves[4]), global),
    corr(diff(trainCurves[5]), global),
  ];
  assertClose(got, want, { atol: 1e-12, rtol: 1e-12, label: "CLD" });
  assert.ok(got[0] > 0.95 && got[1] < got[0], `${got}`);
  // without sources every row aligns with the global curve
  assertClose(cldScores(traj), trainCurves.map((c) => corr(diff(c), global)), { atol: 1e-12, rtol: 1e-12 });
  assert.equal(pearson([1, 1, 1], [1, 2, 3]), 0);
  assert.throws(() => cldScores({ train: traj.train.slice(0, 2), val: traj.val.slice(0, 2) }), /at least 3/);
});

Deno.test("CLD align row: the best correlation over the validation rows of the row's source", () => {
  // val rows 0 and 1 fall at different times; their mean falls at both, like the trend row 2
  const valCurves = [[3, 2, 2, 2, 2, 2, 2], [3, 3, 3, 3, 2, 2, 2]];
  const trainCurves = [
    [4, 3.1, 3, 3, 3, 3, 3], // learned with val row 0
    [4, 4, 4, 4, 3, 3, 3], // learned with val row 1
    [6, 5.5, 5.45, 5.45, 5.0, 5.0, 5.0], // learns whenever anything is learned (a shared trend)
  ];
  const E = 7;
  const traj = {
    train: Array.from({ length: E }, (_, e) => trainCurves.map((c) => c[e])),
    val: Array.from({ length: E }, (_, e) => valCurves.map((c) => c[e])),
  };
  const row = cldScores(traj, undefined, undefined, "row");
  const want = trainCurves.map((c) => Math.max(...valCurves.map((v) => corr(diff(c), diff(v)))));
  assertClose(row, want, { atol: 1e-12, rtol: 1e-12, label: "CLD row" });
  const cls = cldScores(traj, undefined, undefined, "class");
  // the class mean ranks the trend row above a row that tracks one validation row; row alignment does not
  assert.ok(cls[2] > cls[1], `class ${cls}`);
  assert.ok(row[1] > 0.99 && row[0] > 0.99 && row[2] < row[1], `row ${row}`);
});

Deno.test("top-k: global picks the highest scores; proportional spreads k over sources; ties by index", () => {
  const s = Float64Array.of(0.2, 0.9, 0.9, -0.5, 0.7, 0.1);
  assert.deepEqual(topK(s, 3), [1, 2, 4]);
  const src = ["a", "a", "a", "a", "b", "b"];
  assert.deepEqual(topK(s, 3, src, "proportional"), [1, 2, 4]); // a: 2, b: 1
  assert.deepEqual(topK(s, 2, src, "proportional"), [1, 4]); // a: 1 (4/6·2 = 1.33), b: 1 (0.67, larger remainder)
  assert.deepEqual(proportionalBudgets([100, 8, 3], 10), [9, 1, 0]);
  assert.deepEqual(proportionalBudgets([2, 2], 10), [2, 2]);
  assert.throws(() => topK(s, 7), /k must be/);
  // matched: an equal share per group, the rest by score; a small group's unused share goes to the best rest
  const g = ["v0", "v0", "v0", "v1", "v1", "v2"];
  assert.deepEqual(topK(s, 3, g, "matched"), [1, 4, 5]); // one per group
  assert.deepEqual(topK(s, 4, g, "matched"), [1, 2, 4, 5]); // 1 each, the 4th is the best left
});

Deno.test("cldAlign: each row is matched to the validation row (align row) or class (align class) that scored it", () => {
  // checkpoints × rows: train row 0 falls first, like val row 0; train row 1 falls later, like val row 1
  const traj = { train: [[4, 4], [3, 4], [3, 3]], val: [[5, 5], [4, 5], [4, 4]] };
  const r = cldAlign(traj, undefined, undefined, "row");
  assert.deepEqual(r.match, ["val:0", "val:1"]);
  assert.ok(r.scores[0] > 0.99 && r.scores[1] > 0.99, `${r.scores}`);
  const c = cldAlign(
    { train: traj.train.map((x) => x.slice(0, 2)), val: traj.val },
    ["a", "b"],
    ["a", "b"],
    "class",
  );
  assert.deepEqual(c.match, ["class:a", "class:b"]);
});

function seq(ids: number[], row: number): Example {
  return {
    inputIds: Int32Array.from(ids),
    labels: Int32Array.from(ids, (_, t) => t + 1 < ids.length ? ids[t + 1] : -100),
    row,
  };
}

Deno.test("RowLossRunner: per-row mean NLL equals the loss graph on each row alone", async () => {
  const cfg = tinyLlama();
  const w = initParams(paramSpecs(cfg), 3);
  const r = rng(5);
  const ex = [7, 3, 11, 5].map((n, i) =>
    seq(Array.from({ length: n }, () => Math.floor(r() * cfg.vocabSize)), i)
  );
  const rows = new RowLossRunner(cfg, "node");
  const got = await rows.meanLosses(w, ex, 3);
  const ref = new ModelRunner(cfg, "node");
  const want: number[] = [];
  for (const e of ex) {
    const s = await ref.lossSum(w, makeBatch([e]));
    want.push(s.lossSum / s.tokens);
  }
  assertClose(got, want, { atol: 1e-5, rtol: 1e-5, label: "row losses" });
  await rows.release();
  await ref.release();
});

Deno.test("cldSelect on a tiny model: the copies of the validation row rank first; same seed, same selection", async () => {
  const cfg = { ...tinyLlama(), hidden: 32, ffn: 48 };
  const w = initParams(paramSpecs(cfg), 1);
  const r = rng(9);
  const pattern = Array.from({ length: 14 }, (_, t) => (t * 7) % 13 + 2);
  const train = [
    ...Array.from(
      { length: 6 },
      (_, i) => seq(Array.from({ length: 10 + i }, () => Math.floor(r() * cfg.vocabSize)), i),
    ),
    seq(pattern, 6),
    seq(pattern, 7),
  ];
  const opts = { epochs: 2, evalsPerEpoch: 3, lr: 1e-2, batchSize: 4, seed: 3, backend: "node" as const };
  const a = await cldSelect(cfg, w, train, [seq(pattern, 0)], 2, opts);
  assert.deepEqual([...a.indices].sort(), [6, 7]);
  assert.ok(a.scores.every((s) => s > 0.999), `${a.scores}`);
  assert.ok(Math.max(...a.all.slice(0, 6)) < 0.999, `${a.all}`);
  const b = await cldSelect(cfg, w, train, [seq(pattern, 0)], 2, opts);
  assert.deepEqual(b.indices, a.indices);
  assert.deepEqual([...b.all], [...a.all]);
  assert.equal(
    w.get("model.embed_tokens.weight")![0],
    initParams(paramSpecs(cfg), 1).get("model.embed_tokens.weight")![0],
  );
});
