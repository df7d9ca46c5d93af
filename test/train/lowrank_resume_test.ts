/** Checkpoints carry projector state: a GaLore / Q-GaLore / DCT run resumed from one matches the uninterrupted run. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Trainer } from "../../src/train/trainer.ts";
import { loadCheckpoint, saveCheckpoint } from "../../src/train/checkpoint.ts";
import { setupLowRank } from "../../src/train/lowrank_setup.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import { randomExamples, tinyLlama } from "../models/_tiny.ts";
import { rng } from "../_util.ts";

for (const method of ["galore", "qgalore", "dct"] as const) {
  Deno.test(`${method}: resuming from a checkpoint reproduces the uninterrupted losses`, async () => {
    const cfg = tinyLlama(), r = rng(2);
    const ex = randomExamples(cfg.vocabSize, 6, 9, r);
    const opts = { steps: 8, lr: 1e-2, batchSize: 3 };
    const lr = { rank: 2, updateGap: 3, scale: 1, weightGroupSize: 64 };
    const make = async () => {
      const s = await setupLowRank(method, cfg, initParams(paramSpecs(cfg), 1), lr);
      return new Trainer(cfg, s.weights, ex, opts, "node", s.model);
    };
    const full = await make();
    const ref = (await full.run()).map((s) => s.loss);
    const first = await make();
    await first.run(undefined, 4);
    const dir = join(await Deno.makeTempDir(), "ck");
    await saveCheckpoint(dir, first);
    const resumed = await make();
    await loadCheckpoint(dir, resumed);
    const rest = (await resumed.run()).map((s) => s.loss);
    assert.deepEqual([...first.state.losses, ...rest], ref);
    for (const t of [full, first, resumed]) await t.release();
  });
}
