/** CoLM: facility location, small sources kept, Adam normalization, zeroth-order features vs exact gradients. */
import assert from "node:assert/strict";
import { facilityLocation, similarityMatrix } from "../../src/coreset/facility.ts";
import { adamNormalize, colmPick, ColmSelector, smallSources, topDims } from "../../src/coreset/colm.ts";
import { lastVProj } from "../../src/coreset/row_loss.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import { initParams } from "../../src/models/params.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { makeBatch } from "../../src/data/batch.ts";
import type { Example } from "../../src/data/example.ts";
import type { DecoderConfig } from "../../src/models/config.ts";
import { tinyGpt2, tinyLlama } from "../models/_tiny.ts";
import { assertClose, rng } from "../_util.ts";

const f32 = (rows: number[][]) => rows.map((v) => Float32Array.from(v));

Deno.test("facility location: one representative per cluster, weights = cluster sizes (cosine and l1)", () => {
  // three clusters of sizes 4, 2, 1 in scrambled order
  const x = f32([[1, 0, 0], [0, 1, 0.05], [0.95, 0.05, 0], [0, 0, 1], [0.9, 0.1, 0], [0.05, 0.95, 0], [
    1,
    0.02,
    0.02,
  ]]);
  const cluster = [0, 1, 0, 2, 0, 1, 0];
  for (const kind of ["cosine", "l1"] as const) {
    const fl = facilityLocation(similarityMatrix(x, kind), x.length, 3);
    assert.deepEqual(fl.indices.map((i) => cluster[i]).sort(), [0, 1, 2], kind);
    const w = new Map(fl.indices.map((i, r) => [cluster[i], fl.weights[r]]));
    assert.deepEqual([w.get(0), w.get(1), w.get(2)], [4, 2, 1], kind);
  }
  const all = facilityLocation(similarityMatrix(x), x.length, 7);
  assert.deepEqual(all.indices, [0, 1, 2, 3, 4, 5, 6]);
});

Deno.test("facility location: lazy greedy equals plain greedy on random features", () => {
  const r = rng(11);
  const x = Array.from({ length: 40 }, () => Float32Array.from({ length: 6 }, () => r() - 0.3));
  const s = similarityMatrix(x), n = x.length;
  const cur = new Float64Array(n), plain: number[] = [];
  for (let t = 0; t < 12; t++) {
    let best = -1, bestGain = -Infinity;
    for (let j = 0; j < n; j++) {
      let g = 0;
      for (let i = 0; i < n; i++) g += Math.max(0, s[i * n + j] - cur[i]);
      if (g > bestGain) (best = j, bestGain = g);
    }
    plain.push(best);
    for (let i = 0; i < n; i++) cur[i] = Math.max(cur[i], s[i * n + best]);
  }
  assert.deepEqual(facilityLocation(s, n, 12).indices, plain);
});

Deno.test("Adam normalization follows the formula; sparsification keeps the largest |mean u| dims", () => {
  const state = { m: Float32Array.of(0.1, -0.2, 0), v: Float32Array.of(0.01, 0.04, 0.001), t: 3 };
  const g = f32([[0.5, 0.1, -1], [-0.2, 0.3, 2]]);
  const { u } = adamNormalize(g, state, 0.9, 0.99, 1e-8);
  const want = g.map((gi) =>
    [...gi].map((x, d) => {
      const m = 0.9 * state.m[d] + 0.1 * x, v = 0.99 * state.v[d] + 0.01 * x * x;
      return m / (1 - 0.9 ** 4) / (Math.sqrt(v / (1 - 0.99 ** 4)) + 1e-8);
    })
  );
  assertClose(u.flatMap((a) => [...a]), want.flat(), { rtol: 1e-5, label: "u" });
  assert.deepEqual([...topDims(f32([[1, -3, 0.5, 2], [1, -3, -0.5, 0]]), 2)], [0, 1]);
});

Deno.test("colmPick: every small-source row is kept, the rest fills the budget per source", () => {
  const r = rng(2);
  const g = Array.from({ length: 12 }, () => Float32Array.from({ length: 5 }, () => r() - 0.5));
  const sources = ["big", "big", "s", "big", "mid", "big", "mid", "big", "s", "big", "mid", "big"];
  const keep = smallSources(sources, { smallFraction: 0.2 });
  assert.deepEqual([...keep], ["s"]);
  const state = { m: new Float32Array(5), v: new Float32Array(5), t: 0 };
  const sel = colmPick(g, sources, keep, 6, state);
  assert.deepEqual(sel.indices.slice(0, 2), [2, 8]);
  assert.equal(sel.indices.length, 6);
  assert.equal(new Set(sel.indices).size, 6);
  const picked = sel.indices.slice(2).map((i) => sources[i]);
  assert.deepEqual(picked.filter((s) => s === "big").length, 3); // 7 big, 3 mid rows: budget 4 → 3 + 1
  assert.equal(state.t, 1);
  assert.ok(state.v.some((x) => x > 0));
  // budget below the kept rows: all kept rows still come back
  const tight = colmPick(g, sources, keep, 1, { m: new Float32Array(5), v: new Float32Array(5), t: 0 });
  assert.deepEqual(tight.indices, [2, 8]);
  // rows with a zero gradient are never picked
  const z = colmPick([new Float32Array(5), ...g.slice(1)], sources, new Set(), 11, {
    m: new Float32Array(5),
    v: new Float32Array(5),
    t: 0,
  });
  assert.ok(!z.indices.includes(0));
});

function randomRows(vocab: number, n: number, seed: number): Example[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, row) => {
    const len = 5 + Math.floor(r() * 6);
    const ids = Int32Array.from({ length: len }, () => Math.floor(r() * vocab));
    return { inputIds: ids, labels: Int32Array.from(ids, (_, t) => (t + 1 < len ? ids[t + 1] : -100)), row };
  });
}

for (
  const [arch, make] of [["llama", () => tinyLlama()], ["gpt2", tinyGpt2]] as [string, () => DecoderConfig][]
) {
  Deno.test(`CoLM features (${arch}): the zeroth-order estimate matches ⟨∇_{last v_proj} ℓ_i, z⟩ z`, async () => {
    const cfg = make();
    const w = initParams(paramSpecs(cfg), 7);
    const rows = randomRows(cfg.vocabSize, 4, 3);
    const sel = new ColmSelector(cfg, rows.map(() => "a"), { feature: "zo", eps: 3e-3, seed: 5 }, "node");
    const g = await sel.features(w, rows);
    const vp = lastVProj(cfg), z = sel.z[0];
    const exact = new ModelRunner(cfg, "node", (n) => n === vp.weight);
    for (const [i, e] of rows.entries()) {
      const b = makeBatch([e]);
      const full = (await exact.lossAndGrad(w, b, 1 / b.targetTokens)).grads.get(vp.weight)!;
      const c = [...vp.entries].reduce((s, idx, j) => s + full[idx] * z[j], 0);
      assert.ok(Math.abs(c) > 1e-3, `directional derivative ${c}`);
      assertClose(g[i], z.map((zj) => c * zj), { atol: 2e-3 * Math.abs(c), rtol: 2e-2, label: `row ${i}` });
    }
    await exact.release();
    await sel.release();
  });

  Deno.test(`CoLM features (${arch}): "grad" is each row's exact gradient of the last value projection`, async () => {
    const cfg = make();
    const w = initParams(paramSpecs(cfg), 7);
    const rows = randomRows(cfg.vocabSize, 5, 4);
    const sel = new ColmSelector(cfg, rows.map(() => "a"), {}, "node");
    assert.equal(sel.feature, "grad");
    const g = await sel.features(w, rows);
    const vp = lastVProj(cfg);
    const exact = new ModelRunner(cfg, "node", (n) => n === vp.weight);
    for (const [i, e] of rows.entries()) {
      const b = makeBatch([e]);
      const full = (await exact.lossAndGrad(w, b, 1 / b.targetTokens)).grads.get(vp.weight)!;
      assertClose(g[i], Float32Array.from(vp.entries, (idx) => full[idx]), {
        atol: 1e-6,
        rtol: 1e-4,
        label: `row ${i}`,
      });
    }
    // a count sketch keeps inner products on average: its Gram matrix tracks the exact one
    const small = new ColmSelector(cfg, rows.map(() => "a"), { maxDims: 64 }, "node");
    const s = await small.features(w, rows);
    assert.equal(s[0].length, 64);
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((t, x, j) => t + x * b[j], 0);
    for (let i = 0; i < rows.length; i++) {
      const rel = Math.abs(dot(s[i], s[i]) - dot(g[i], g[i])) / dot(g[i], g[i]);
      assert.ok(rel < 0.6, `sketched norm² off by ${rel}`);
    }
    await exact.release();
    await sel.release();
    await small.release();
  });
}

Deno.test("ColmSelector: small sources kept, budget ratio·N, same seed → same selections", async () => {
  const cfg = tinyLlama();
  const w = initParams(paramSpecs(cfg), 2);
  const rows = randomRows(cfg.vocabSize, 16, 8);
  const sources = rows.map((_, i) => (i === 3 || i === 12 ? "small" : i % 3 === 0 ? "x" : "y"));
  const pick = async (seed: number) => {
    const s = new ColmSelector(cfg, sources, { ratio: 0.5, seed, directions: 2, smallFraction: 0.2 }, "node");
    const out = [(await s.select(w, rows, sources)).indices, (await s.select(w, rows, sources)).indices];
    await s.release();
    return out;
  };
  const a = await pick(1);
  for (const idx of a) {
    assert.equal(idx.length, 8);
    assert.deepEqual(idx.slice(0, 2), [3, 12]);
  }
  assert.deepEqual(await pick(1), a);
});
