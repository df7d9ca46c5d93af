/** Hutchinson estimates against the exact Hessian (from HVPs with basis vectors) of a tiny model. */
import assert from "node:assert/strict";
import { hutchinson, HvpRunner, rademacher } from "../../src/curvature/hutchinson.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import { makeBatch } from "../../src/data/batch.ts";
import { randomBatch, tinyLlama } from "../models/_tiny.ts";

const cfg = tinyLlama();
const W = "model.layers.1.mlp.down_proj.weight";
const w = initParams(paramSpecs(cfg), 5);
for (const v of w.values()) v.forEach((x, i) => (v[i] = x * 6)); // away from the near-linear init regime
const batch = randomBatch(cfg.vocabSize, [8, 6], 3);
const examples = [0, 1].map((r) => {
  const T = batch.T,
    ids = batch.inputIds.slice(r * T, (r + 1) * T),
    lab = batch.labels.slice(r * T, (r + 1) * T);
  const n = Number(batch.attentionMask.slice(r * T, (r + 1) * T).reduce((a, b) => a + b, 0n));
  return {
    inputIds: Int32Array.from(ids.slice(0, n), Number),
    labels: Int32Array.from(lab.slice(0, n), Number),
    row: r,
  };
});

Deno.test("Hutchinson trace and diagonal converge to the exact Hessian's", async () => {
  const runner = new HvpRunner(cfg, [W], "node");
  const n = w.get(W)!.length;
  const b = makeBatch(examples);
  // exact diagonal: H e_i for every basis vector
  const exact = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const e = new Float32Array(n);
    e[i] = 1;
    exact[i] = (await runner.hvp(w, b, new Map([[W, e]]))).get(W)![i];
  }
  const tr = exact.reduce((a, x) => a + x, 0);
  // Hutchinson with many probes, and the spread of single-probe estimates
  const single: number[] = [];
  for (let k = 0; k < 300; k++) {
    const z = rademacher(n, 1000 + k);
    const hz = (await runner.hvp(w, b, new Map([[W, z]]))).get(W)!;
    single.push(z.reduce((a, zi, i) => a + zi * hz[i], 0));
  }
  await runner.release();
  const mean = single.reduce((a, x) => a + x, 0) / single.length;
  const sd = Math.sqrt(single.reduce((a, x) => a + (x - mean) ** 2, 0) / (single.length - 1));
  assert.ok(
    Math.abs(mean - tr) < 4 * sd / Math.sqrt(single.length) + 1e-6,
    `trace ${mean} vs exact ${tr} (sd ${sd})`,
  );
  const est = await hutchinson(cfg, w, examples, [W], { probes: 200, batchSize: 8, backend: "node" });
  assert.ok(Math.abs(est.trace.get(W)! - tr) < 4 * sd / Math.sqrt(200) + 1e-6);
  // the diagonal estimate correlates with the exact diagonal
  const d = est.diag.get(W)!;
  const corr = pearson(d, exact);
  assert.ok(corr > 0.5, `correlation ${corr}`);
});

function pearson(a: Float32Array, b: Float32Array): number {
  const n = a.length, ma = a.reduce((s, x) => s + x, 0) / n, mb = b.reduce((s, x) => s + x, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) ** 2, sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}
