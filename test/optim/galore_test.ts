/** GaLore: orthonormal projector, exact for rank-r gradients, Adam in the rotated basis, trains. */
import assert from "node:assert/strict";
import { GaLoreProjector } from "../../src/optim/galore.ts";
import { matmul, transpose } from "../../src/optim/projector.ts";
import { AdamW } from "../../src/optim/adamw.ts";
import { buildProjectors } from "../../src/optim/lowrank.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import { randomExamples, tinyGpt2, tinyLlama } from "../models/_tiny.ts";
import { assertClose, randn, rng } from "../_util.ts";

const lowRank = (m: number, n: number, r: number, seed: number) =>
  matmul(randn(m * r, rng(seed)), randn(r * n, rng(seed + 1)), m, r, n);

for (const [m, n] of [[12, 7], [6, 10]]) {
  Deno.test(`GaLore ${m}×${n}: the basis is orthonormal and a rank-r gradient projects back exactly`, () => {
    const r = 3, g = lowRank(m, n, r, 1);
    const p = new GaLoreProjector(m, n, { rank: r, scale: 1 });
    const back = p.projectBack(p.project(g, 0));
    assertClose(back, g, { atol: 1e-4, rtol: 1e-3, label: "projectBack(project(G))" });
    const k = p.side === "right" ? n : m;
    const bbt = matmul(p.basis!, transpose(p.basis!, r, k), r, k, r);
    assertClose(bbt, Array.from({ length: r * r }, (_, i) => (i % (r + 1) === 0 ? 1 : 0)), { atol: 1e-5 });
  });
}

Deno.test("GaLore with full rank and refresh every step: the update is Adam's in the rotated basis", () => {
  const m = 5, n = 4, r = 4;
  const proj = new GaLoreProjector(m, n, { rank: r, scale: 1, updateGap: 1 });
  const opt = new AdamW({ weightDecay: 0, projectors: new Map([["w", proj]]) });
  const w = new Map([["w", new Float32Array(m * n)]]);
  const g = randn(m * n, rng(3));
  opt.update(w, new Map([["w", g]]), 0.01);
  // by hand: R = G Qᵀ with the basis the projector chose; first Adam step = lr·R/(|R|+ε') elementwise
  const q = proj.basis!;
  const R = matmul(g, transpose(q, r, n), m, n, r);
  const u = R.map((x) => x / (Math.abs(x) + 1e-8));
  const want = matmul(u, q, m, r, n).map((x) => -0.01 * x);
  assertClose(w.get("w")!, want, { atol: 1e-6, label: "ΔW" });
  // and it is NOT plain AdamW's elementwise sign step
  const plain = g.map((x) => -0.01 * Math.sign(x));
  assert.ok(want.some((x, i) => Math.abs(x - plain[i]) > 1e-3));
});

for (const [name, cfg] of [["LLaMA", tinyLlama()], ["GPT-2 (Conv1D)", tinyGpt2()]] as const) {
  Deno.test(`GaLore on tiny ${name}: lowers the loss, keeps low-rank moments, differs from AdamW`, async () => {
    const r = rng(5);
    const ex = randomExamples(cfg.vocabSize, 4, 10, r);
    const run = async (galore: boolean) => {
      const projectors = galore
        ? buildProjectors(cfg, (m, n) => new GaLoreProjector(m, n, { rank: 2, updateGap: 5, scale: 1 }))
        : undefined;
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
      const losses = (await t.run()).map((s) => s.loss);
      const bytes = t.optimizer.stateBytes;
      await t.release();
      return { losses, bytes, n: projectors?.size ?? 0 };
    };
    const g = await run(true), a = await run(false);
    assert.ok(g.losses.at(-1)! < g.losses[0] * 0.8, `${g.losses[0]} → ${g.losses.at(-1)}`);
    assert.ok(g.n >= 2 * cfg.layers);
    assert.ok(g.bytes < a.bytes, `GaLore state ${g.bytes} vs AdamW ${a.bytes}`);
    assert.ok(Math.abs(g.losses.at(-1)! - a.losses.at(-1)!) > 1e-3);
  });
}
