/**
 * Memory hygiene of a low-rank step: Q-GaLore's setup leaves no fp32 copy of a quantized weight in
 * the caller's map, aligned INT8 codes are fed without a copy, AdamW can release gradients as it
 * consumes them (same update), and low-memory sessions (no arena / memory patterns) compute the
 * same losses and gradients as the default ones on both CPU backends.
 */
import assert from "node:assert/strict";
import { setupLowRank } from "../../src/train/lowrank_setup.ts";
import { int8Source, QuantizedWeights } from "../../src/optim/int8_weights.ts";
import { AdamW } from "../../src/optim/adamw.ts";
import { lowRankTargets } from "../../src/optim/lowrank.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { randomBatch, randomExamples, tinyLlama } from "../models/_tiny.ts";
import { assertClose, randn, rng } from "../_util.ts";

const cfg = tinyLlama();

Deno.test("setupLowRank qgalore: the caller's map keeps only the float weights it did not quantize", async () => {
  const w = initParams(paramSpecs(cfg), 1);
  const before = w.size;
  const { weights } = await setupLowRank("qgalore", cfg, w, { rank: 2, weightGroupSize: 64 });
  const names = lowRankTargets(cfg).map((t) => t.name);
  assert.ok(weights instanceof QuantizedWeights);
  for (const n of names) assert.ok(!w.has(n) && weights.codes.has(n), `${n} still has an fp32 copy`);
  assert.equal(w.size, before - names.length);
  for (const [k, v] of w) assert.equal(weights.get(k), v, `${k}: float weight shared, not copied`);
  // galore / dct keep the caller's map as it was
  const w2 = initParams(paramSpecs(cfg), 1);
  await setupLowRank("galore", cfg, w2, { rank: 2 });
  assert.equal(w2.size, before);
});

Deno.test("int8Source feeds the stored codes without a copy, padded to whole groups once at store", () => {
  const q = new QuantizedWeights();
  const a = randn(128, rng(1)), b = randn(100, rng(2));
  q.store("a", a, 64, 0, false);
  q.store("b", b, 64, 0, false);
  const src = int8Source(new Set(["a", "b"]), 64);
  assert.equal(src.feeds("a", q)["a#q"].data, q.codes.get("a")!.data);
  const fed = src.feeds("b", q)["b#q"].data as Uint8Array;
  assert.equal(fed, q.codes.get("b")!.data);
  assert.equal(fed.length, 128);
  const back = q.get("b")!;
  assert.equal(back.length, 100);
  assert.ok(back.every((x, i) => Math.abs(x - b[i]) < 0.05), "dequantized b far from b");
});

Deno.test("AdamW releaseGrads: empties the gradient map and updates exactly as without it", () => {
  const r = rng(3);
  const w0 = new Map([["x", randn(50, r)], ["y", randn(7, r)]]);
  const g = new Map([["x", randn(50, r)], ["y", randn(7, r)]]);
  const run = (release: boolean) => {
    const w = new Map([...w0].map(([k, v]) => [k, v.slice()]));
    const grads = new Map([...g].map(([k, v]) => [k, v.slice()]));
    const opt = new AdamW({ releaseGrads: release, weightDecay: 0.1 });
    opt.update(w, grads, 1e-2);
    return { w, grads };
  };
  const kept = run(false), released = run(true);
  assert.equal(kept.grads.size, 2);
  assert.equal(released.grads.size, 0);
  for (const k of w0.keys()) assert.deepEqual([...released.w.get(k)!], [...kept.w.get(k)!], k); // ≤ 50 entries
});

for (const backend of ["node", "wasm"] as const) {
  Deno.test(`${backend}: low-memory sessions give the default sessions' loss and gradients`, async () => {
    const w = initParams(paramSpecs(cfg), 2);
    const b = randomBatch(cfg.vocabSize, [6, 4], 3);
    const def = new ModelRunner(cfg, backend, undefined, undefined, undefined, { lowMemory: false });
    const low = new ModelRunner(cfg, backend, undefined, undefined, undefined, { lowMemory: true });
    const [a, c] = [await def.lossAndGrad(w, b), await low.lossAndGrad(w, b)];
    assert.equal(c.lossSum, a.lossSum);
    for (const [k, g] of a.grads) assertClose(c.grads.get(k)!, g, { atol: 1e-6, label: k });
    await def.release();
    await low.release();
  });
}

Deno.test("Trainer lowMemory: a Q-GaLore run gives the default run's losses", async () => {
  const ex = randomExamples(cfg.vocabSize, 6, 9, rng(4));
  const run = async (lowMemory: boolean) => {
    const s = await setupLowRank("qgalore", cfg, initParams(paramSpecs(cfg), 1), {
      rank: 2,
      updateGap: 3,
      scale: 1,
      weightGroupSize: 64,
    });
    const t = new Trainer(cfg, s.weights, ex, { steps: 4, lr: 1e-2, batchSize: 3 }, "node", {
      ...s.model,
      lowMemory,
    });
    const losses = (await t.run()).map((i) => i.loss);
    await t.release();
    return losses;
  };
  assert.deepEqual(await run(true), await run(false));
});
