/** Q-GaLore INT8 weights: in-graph dequantization, no float master copy, unbiased stochastic rounding. */
import assert from "node:assert/strict";
import { int8Source, QuantizedWeights } from "../../src/optim/int8_weights.ts";
import { QGaLoreProjector } from "../../src/optim/qgalore.ts";
import { buildProjectors, lowRankTargets } from "../../src/optim/lowrank.ts";
import { dequantize, quantize } from "../../src/linalg/quant.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import { randomBatch, randomExamples, tinyLlama } from "../models/_tiny.ts";
import { assertClose, rng } from "../_util.ts";

const cfg = tinyLlama();
const G = 64;

function quantized(seed: number) {
  const w = initParams(paramSpecs(cfg), seed);
  const names = new Set(lowRankTargets(cfg).map((t) => t.name));
  const qw = new QuantizedWeights(w);
  for (const n of names) qw.store(n, w.get(n)!, G, 0, false);
  return { qw, names, src: int8Source(names, G) };
}

Deno.test("INT8 weights: the graph's dequantized forward equals float weights holding the dequantized values", async () => {
  const { qw, names, src } = quantized(1);
  const b = randomBatch(cfg.vocabSize, [6, 4], 2);
  const a = await new ModelRunner(cfg, "node", undefined, undefined, src).logits(qw, b);
  const f = new Map([...paramSpecs(cfg)].map((s) => [s.name, qw.get(s.name)!]));
  const want = await new ModelRunner(cfg, "node").logits(f, b);
  assertClose(a.data as Float32Array, want.data as Float32Array, { atol: 1e-5, label: "logits" });
  assert.ok(names.size === 7 * cfg.layers);
});

Deno.test("stochastic rounding of INT8 weights is unbiased over many roundings", () => {
  const x = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i) * 0.3);
  const mean = new Float64Array(x.length), N = 400;
  for (let s = 0; s < N; s++) {
    dequantize(quantize(x, { bits: 8, groupSize: 64, stochastic: true, seed: s })).forEach((
      v,
      i,
    ) => (mean[i] += v / N));
  }
  const step = 0.6 / 255;
  // the group's extreme elements sit on the clamp (as in the official code): skip them
  const edge = (i: number) => {
    const g = x.slice(i - (i % 64), i - (i % 64) + 64);
    return x[i] >= Math.max(...g) - step || x[i] <= Math.min(...g) + step;
  };
  for (let i = 0; i < x.length; i++) {
    if (edge(i)) continue;
    assert.ok(Math.abs(mean[i] - x[i]) < 0.1 * step, `element ${i}: ${mean[i]} vs ${x[i]}`);
  }
});

Deno.test("Q-GaLore with INT8 weights: trains, keeps weights as codes (no fp32 copy), differs from float GaLore", async () => {
  const r = rng(7);
  const ex = randomExamples(cfg.vocabSize, 4, 10, r);
  const { qw, names, src } = quantized(1);
  const projectors = buildProjectors(
    cfg,
    (m, n) => new QGaLoreProjector(m, n, { rank: 4, updateGap: 5, scale: 1 }),
  );
  const t = new Trainer(cfg, qw, ex, { steps: 25, lr: 2e-2, batchSize: 4 }, "node", {
    projectors,
    int8: { source: src, groupSize: G },
  });
  const losses = (await t.run()).map((s) => s.loss);
  await t.release();
  assert.ok(losses.at(-1)! < losses[0] * 0.85, `${losses[0]} → ${losses.at(-1)}`);
  for (const n of names) {
    assert.ok(qw.codes.has(n) && !Map.prototype.has.call(qw, n), `${n} has a float copy`);
  }
  assert.ok(qw.quantizedBytes < [...names].reduce((s, n) => s + qw.get(n)!.length * 4, 0) / 3);
});
