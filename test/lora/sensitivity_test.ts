/** Sensitivity-LoRA: exact-budget allocation that follows the sensitivities. */
import assert from "node:assert/strict";
import {
  allocateRanks,
  effectiveRank,
  sensitivityRanks,
  topkConcentration,
} from "../../src/lora/sensitivity.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import { randomExamples, tinyLlama } from "../models/_tiny.ts";
import { rng } from "../_util.ts";

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

Deno.test("allocateRanks: sums exactly to the budget, respects min/max, ranks follow the scores", () => {
  const r = rng(1);
  for (let t = 0; t < 200; t++) {
    const n = 2 + Math.floor(r() * 10);
    const scores = new Map(Array.from({ length: n }, (_, i) => [`m${i}`, r() ** 3 * 10]));
    const min = 1 + Math.floor(r() * 2), max = min + 2 + Math.floor(r() * 10);
    const budget = n * min + Math.floor(r() * (n * (max - min) + 1));
    const ranks = allocateRanks(scores, budget, min, max);
    assert.equal(sum(ranks), budget);
    for (const [k, v] of ranks) {
      assert.ok(v >= min && v <= max, `${k}=${v} outside [${min},${max}]`);
      for (const [k2, v2] of ranks) if (scores.get(k)! > scores.get(k2)! + 1e-9) assert.ok(v >= v2 - 1);
    }
  }
  assert.deepEqual([...allocateRanks(new Map([["a", 3], ["b", 1]]), 8, 1, 8).values()], [6, 2]);
  assert.throws(() => allocateRanks(new Map([["a", 1]]), 9, 1, 8), /rank-budget 9/);
});

Deno.test("local metrics: Top-k concentration and effective rank", () => {
  assert.equal(topkConcentration(Float32Array.of(10, 0, 0, 0), 0.25), 1);
  assert.equal(topkConcentration(Float32Array.of(1, 1, 1, 1), 0.25), 0.25);
  assert.ok(Math.abs(effectiveRank(Float32Array.of(1, 0, 0, 1), 2, 2) - 2) < 1e-9);
  assert.ok(Math.abs(effectiveRank(Float32Array.of(1, 1, 1, 1), 2, 2) - 1) < 1e-9);
});

Deno.test("sensitivityRanks: the budget is met and a sharper layer gets more rank than uniform would give", async () => {
  const cfg = tinyLlama();
  const w = initParams(paramSpecs(cfg), 2);
  // Make layer 1's v_proj matter much more: scale the weights feeding its output
  w.get("model.layers.1.self_attn.o_proj.weight")!.forEach((x, i, a) => (a[i] = x * 20));
  const r = rng(4);
  const examples = randomExamples(cfg.vocabSize, 8, 10, r);
  for (const estimator of ["hutchinson", "gnb"] as const) {
    const res = await sensitivityRanks(cfg, w, examples, { targets: ["q_proj", "v_proj"] }, 16, {
      estimator,
      probes: 4,
    }, "node");
    assert.equal(sum(res.ranks), 16);
    assert.equal(res.ranks.size, 4);
    const v1 = res.ranks.get("model.layers.1.self_attn.v_proj")!,
      q0 = res.ranks.get("model.layers.0.self_attn.q_proj")!;
    assert.ok(v1 > 4 && v1 > q0, `${estimator}: ${JSON.stringify([...res.ranks])}`);
  }
});
