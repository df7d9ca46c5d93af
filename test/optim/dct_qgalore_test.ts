/** DCT and Q-GaLore projectors: exactness in-span, lazy gap growth, and training. */
import assert from "node:assert/strict";
import { DctProjector } from "../../src/optim/dct.ts";
import { QGaLoreProjector } from "../../src/optim/qgalore.ts";
import { GaLoreProjector } from "../../src/optim/galore.ts";
import { matmul } from "../../src/optim/projector.ts";
import { dctBasis } from "../../src/linalg/dct.ts";
import { buildProjectors } from "../../src/optim/lowrank.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import type { Projector } from "../../src/optim/projector.ts";
import { randomExamples, tinyLlama } from "../models/_tiny.ts";
import { assertClose, randn, rng } from "../_util.ts";

Deno.test("DCT: a gradient in the span of r basis columns is selected and projects back exactly", () => {
  const m = 10, n = 8, r = 3, q = dctBasis(n), cols = [1, 4, 6];
  const sub = new Float32Array(n * r); // Q[:, cols]
  for (let i = 0; i < n; i++) cols.forEach((c, j) => (sub[i * r + j] = q[i * n + c]));
  const coef = randn(m * r, rng(2)).map((x) => x + Math.sign(x)); // well away from 0
  const subT = new Float32Array(r * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < r; j++) subT[j * n + i] = sub[i * r + j];
  const g = matmul(coef, subT, m, r, n);
  const p = new DctProjector(m, n, { rank: r });
  const back = p.projectBack(p.project(g, 0));
  assert.deepEqual([...p.indices!].sort(), cols);
  assertClose(back, g, { atol: 1e-5, label: "in-span" });
  assert.equal(p.stateBytes, r * 4 + n * n * 4); // indices + the shared basis (first user)
  assert.equal(new DctProjector(m, n, { rank: r }).stateBytes, 0); // a second layer of the same size: indices only once selected
});

Deno.test("Q-GaLore: a stable subspace doubles the layer's gap; an unstable one keeps it", () => {
  const m = 16, n = 12, g = randn(m * n, rng(1));
  const stable = new QGaLoreProjector(m, n, { rank: 4, updateGap: 1, queueSize: 3 });
  for (let s = 0; s < 8; s++) stable.project(g, s); // same gradient: cosine 1 every refresh
  assert.ok(stable.gap >= 2, `gap ${stable.gap}`);
  const noisy = new QGaLoreProjector(m, n, { rank: 4, updateGap: 1, queueSize: 3 });
  for (let s = 0; s < 8; s++) noisy.project(randn(m * n, rng(100 + s)), s);
  assert.equal(noisy.gap, 1);
});

Deno.test("Q-GaLore: the INT4 basis is close to GaLore's float basis and costs ~1/8 of its bytes", () => {
  const m = 64, n = 48, g = randn(m * n, rng(4));
  const f = new GaLoreProjector(m, n, { rank: 8, scale: 1 }),
    q = new QGaLoreProjector(m, n, { rank: 8, scale: 1 });
  const rf = f.project(g, 0), rq = q.project(g, 0);
  const err = Math.sqrt(rf.reduce((s, x, i) => s + (x - rq[i]) ** 2, 0) / rf.reduce((s, x) => s + x * x, 0));
  assert.ok(err < 0.15, `relative error ${err}`);
  assert.ok(q.stateBytes < f.stateBytes / 3, `${q.stateBytes} vs ${f.stateBytes}`);
});

for (
  const [name, make] of [
    ["DCT", (m: number, n: number) => new DctProjector(m, n, { rank: 2 })],
    ["Q-GaLore", (m: number, n: number) => new QGaLoreProjector(m, n, { rank: 2, updateGap: 5, scale: 1 })],
  ] as [string, (m: number, n: number) => Projector][]
) {
  Deno.test(`${name} on a tiny LLaMA: lowers the loss and differs from AdamW`, async () => {
    const cfg = tinyLlama(), r = rng(5);
    const ex = randomExamples(cfg.vocabSize, 4, 10, r);
    const run = async (projectors?: Map<string, Projector>) => {
      const t = new Trainer(
        cfg,
        initParams(paramSpecs(cfg), 1),
        ex,
        { steps: 25, lr: 1e-2, batchSize: 4 },
        "node",
        {
          projectors,
        },
      );
      const l = (await t.run()).map((s) => s.loss);
      await t.release();
      return l;
    };
    const lr = await run(buildProjectors(cfg, make)), a = await run();
    assert.ok(lr.at(-1)! < lr[0] * 0.8, `${lr[0]} → ${lr.at(-1)}`);
    assert.ok(Math.abs(lr.at(-1)! - a.at(-1)!) > 1e-3);
  });
}
