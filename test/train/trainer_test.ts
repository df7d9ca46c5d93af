/** The training loop: memorization, exact resume from a checkpoint, NaN guard. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Trainer } from "../../src/train/trainer.ts";
import { loadCheckpoint, saveCheckpoint } from "../../src/train/checkpoint.ts";
import { initParams } from "../../src/models/params.ts";
import { paramSpecs } from "../../src/models/model.ts";
import type { Example } from "../../src/data/example.ts";
import { tinyLlama } from "../models/_tiny.ts";
import { rng } from "../_util.ts";

function rows(n: number, len: number, vocab: number, seed: number): Example[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, row) => {
    const ids = Int32Array.from({ length: len }, () => Math.floor(r() * vocab));
    return { inputIds: ids, labels: Int32Array.from(ids, (_, t) => (t + 1 < len ? ids[t + 1] : -100)), row };
  });
}

Deno.test("Trainer: a tiny model memorizes a handful of rows (loss below half its start)", async () => {
  const cfg = { ...tinyLlama(), hidden: 32, ffn: 64 };
  const w = initParams(paramSpecs(cfg), 1);
  const t = new Trainer(cfg, w, rows(4, 12, cfg.vocabSize, 2), {
    steps: 60,
    lr: 1e-2,
    batchSize: 4,
    warmup: 5,
  }, "node");
  const infos = await t.run();
  assert.ok(infos.at(-1)!.loss < infos[0].loss / 2, `loss ${infos[0].loss} → ${infos.at(-1)!.loss}`);
  await t.release();
});

Deno.test("Trainer: resuming from a checkpoint reproduces the uninterrupted run's losses", async () => {
  const cfg = tinyLlama();
  const data = rows(10, 8, cfg.vocabSize, 3);
  const opts = {
    steps: 8,
    lr: 5e-3,
    batchSize: 3,
    gradAccum: 2,
    warmup: 2,
    schedule: "cosine" as const,
    weightDecay: 0.1,
  };
  const full = new Trainer(cfg, initParams(paramSpecs(cfg), 4), data, opts, "node");
  const ref = (await full.run()).map((s) => s.loss);
  const first = new Trainer(cfg, initParams(paramSpecs(cfg), 4), data, opts, "node");
  await first.run(undefined, 3);
  const dir = join(await Deno.makeTempDir(), "ckpt");
  await saveCheckpoint(dir, first);
  const resumed = new Trainer(cfg, initParams(paramSpecs(cfg), 99), data, opts, "node"); // different init: overwritten
  await loadCheckpoint(dir, resumed);
  const rest = (await resumed.run()).map((s) => s.loss);
  assert.deepEqual([...first.state.losses, ...rest], ref);
  for (const t of [full, first, resumed]) await t.release();
});

Deno.test("Trainer: a non-finite loss stops with the step named and leaves weights unchanged", async () => {
  const cfg = tinyLlama();
  const w = initParams(paramSpecs(cfg), 1);
  w.get("model.norm.weight")!.fill(NaN);
  const before = new Map([...w].map(([k, v]) => [k, v.slice()]));
  const t = new Trainer(cfg, w, rows(2, 6, cfg.vocabSize, 1), { steps: 3, batchSize: 2 }, "node");
  await assert.rejects(t.step(), /step 1: .*not finite/);
  for (const [k, v] of w) assert.deepEqual(Array.from(v), Array.from(before.get(k)!), k);
  await t.release();
});
