/** CoLM against random selection on a planted structure: one pattern fills most of every drawn batch with
 * near-duplicates, four others are rare. Keeping half of each batch, CoLM's gradient features put the rare
 * patterns in the kept half more often than chance (the paper's one-direction zeroth-order features barely
 * do), and the model trained on its halves reaches a lower loss averaged over the patterns than on random
 * halves of the same batches. */
import assert from "node:assert/strict";
import { colmHooks } from "../../src/coreset/train_hooks.ts";
import { Trainer, type TrainerHooks } from "../../src/train/trainer.ts";
import { initParams } from "../../src/models/params.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import { evaluateLoss } from "../../src/eval/loss.ts";
import { tokenRow } from "../../src/build/unlearn_synthetic.ts";
import type { Example } from "../../src/data/example.ts";
import { tinyLlama } from "../models/_tiny.ts";
import { rng } from "../_util.ts";

const cfg = tinyLlama();
const r = rng(31);
const pattern = () => Array.from({ length: 10 }, () => Math.floor(r() * cfg.vocabSize));
const patterns = Array.from({ length: 5 }, pattern);
/** Pattern 0: 48 near-duplicates (one token changed); patterns 1–4: 4 copies each. */
const rows: Example[] = [];
const kind: number[] = [];
patterns.forEach((p, k) => {
  for (let c = 0; c < (k === 0 ? 48 : 4); c++) {
    const x = [...p];
    if (k === 0) x[9] = Math.floor(r() * cfg.vocabSize);
    rows.push(tokenRow(x, 1, rows.length));
    kind.push(k);
  }
});
const evalRows = patterns.map((p, k) => tokenRow(p, 1, k));

async function train(hooks: (seen: number[]) => TrainerHooks, seed: number) {
  const w = initParams(paramSpecs(cfg), 2);
  const seen: number[] = [];
  const t = new Trainer(
    cfg,
    w,
    rows,
    { steps: 40, lr: 1e-2, batchSize: 16, seed, schedule: "constant" },
    "lean",
    {},
    hooks(seen),
  );
  await t.run();
  await t.release();
  const runner = new ModelRunner(cfg, "lean");
  let loss = 0;
  for (const e of evalRows) loss += (await evaluateLoss(runner, w, [e])).loss / evalRows.length;
  await runner.release();
  return { loss, rare: seen.filter((i) => kind[i] > 0).length / seen.length };
}

const index = new Map(rows.map((e, i) => [e, i]));

Deno.test("CoLM keeps rare patterns and beats random halves of the same batches on a planted structure", async () => {
  const results = [];
  const colmArm = (feature: "grad" | "zo", seed: number) =>
    train((seen) => {
      const { hooks } = colmHooks(cfg, rows, rows.map(() => undefined), { ratio: 0.5, feature }, "lean");
      const select = hooks.selectBatch!;
      return {
        ...hooks,
        selectBatch: async (c, ctx) => {
          const kept = await select(c, ctx);
          seen.push(...kept.map((e) => index.get(e)!));
          return kept;
        },
      };
    }, seed);
  for (const seed of [1, 2, 3]) {
    const colm = await colmArm("grad", seed), zo = await colmArm("zo", seed);
    const rand = await train((seen) => {
      const pick = rng(100 + seed);
      return {
        selectBatch: (c) => {
          const kept = [...c].map((e) => ({ e, u: pick() })).sort((a, b) => a.u - b.u).slice(0, c.length / 2)
            .map((x) => x.e);
          seen.push(...kept.map((e) => index.get(e)!));
          return kept;
        },
      };
    }, seed);
    results.push({ colm, zo, rand });
  }
  for (const { colm, zo, rand } of results) {
    assert.ok(colm.rare > rand.rare + 0.05, `rare share: CoLM ${colm.rare}, random ${rand.rare}`);
    assert.ok(colm.rare > zo.rare + 0.05, `rare share: CoLM ${colm.rare}, zeroth-order features ${zo.rare}`);
  }
  const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
  const c = mean(results.map((x) => x.colm.loss)), q = mean(results.map((x) => x.rand.loss));
  assert.ok(c < q - 0.1, `mean loss over the patterns: CoLM ${c}, random ${q}`);
});
