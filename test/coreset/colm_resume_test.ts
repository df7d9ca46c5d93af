/** CoLM training resumes exactly: checkpoints carry the selector's Adam feature moments (hook state). */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Trainer } from "../../src/train/trainer.ts";
import { loadCheckpoint, saveCheckpoint } from "../../src/train/checkpoint.ts";
import { initParams } from "../../src/models/params.ts";
import { paramSpecs } from "../../src/models/model.ts";
import type { Weights } from "../../src/models/weights.ts";
import type { Example } from "../../src/data/example.ts";
import { colmHooks } from "../../src/coreset/train_hooks.ts";
import { tinyLlama } from "../models/_tiny.ts";
import { rng } from "../_util.ts";

const cfg = tinyLlama();
const r = rng(11);
const data: Example[] = Array.from({ length: 20 }, (_, row) => {
  const len = 5 + Math.floor(r() * 4);
  const ids = Int32Array.from({ length: len }, () => Math.floor(r() * cfg.vocabSize));
  return { inputIds: ids, labels: Int32Array.from(ids, (_, t) => (t + 1 < len ? ids[t + 1] : -100)), row };
});
const sources = data.map((_, i) => (i === 3 ? "rare" : i % 3 ? "a" : "b"));
const opts = { steps: 6, lr: 1e-2, batchSize: 4, gradAccum: 2, seed: 3 };

function colmTrainer(): Trainer {
  const { hooks } = colmHooks(cfg, data, sources, { ratio: 0.5, seed: 3 }, "node");
  return new Trainer(cfg, initParams(paramSpecs(cfg), 5), data, opts, "node", {}, hooks);
}

function sameWeights(a: Weights, b: Weights): boolean {
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  }
  return true;
}

Deno.test("CoLM: a run checkpointed at step 3 and resumed ends with the uninterrupted run's weights", async () => {
  const full = colmTrainer();
  await full.run();
  const first = colmTrainer();
  await first.run(undefined, 3);
  const dir = join(await Deno.makeTempDir(), "ck");
  await saveCheckpoint(dir, first);
  const resumed = colmTrainer();
  assert.equal((await loadCheckpoint(dir, resumed)).step, 3);
  await resumed.run();
  assert.deepEqual(resumed.state.losses, full.state.losses);
  assert.ok(sameWeights(resumed.weights, full.weights), "resumed weights differ from the uninterrupted run");
  // the moments matter: a resume that forgets them (fresh CoLM state) trains on other rows
  const amnesic = colmTrainer();
  await loadCheckpoint(dir, amnesic);
  const P = full.hooks.state!().tensors.m.length;
  const zeros = { m: new Float32Array(P), v: new Float32Array(P) };
  amnesic.hooks.loadState!({ tensors: zeros, meta: { method: "colm", t: "0" } });
  await amnesic.run();
  assert.ok(!sameWeights(amnesic.weights, full.weights), "CoLM state made no difference");
  for (const t of [full, first, resumed, amnesic]) await t.release();
});

Deno.test("CoLM checkpoints: resuming with and without --coreset do not mix; release frees the selector", async () => {
  const root = await Deno.makeTempDir();
  const colm = colmTrainer();
  await colm.run(undefined, 1);
  await saveCheckpoint(join(root, "colm"), colm);
  const plain = new Trainer(cfg, initParams(paramSpecs(cfg), 5), data, opts, "node");
  await plain.run(undefined, 1);
  await saveCheckpoint(join(root, "plain"), plain);
  await assert.rejects(loadCheckpoint(join(root, "colm"), plain), /batch-selection state.*same --coreset/);
  const other = colmTrainer();
  await assert.rejects(loadCheckpoint(join(root, "plain"), other), /no hooks\.safetensors/);
  assert.throws(
    () => other.hooks.loadState!({ tensors: { m: new Float32Array(3), v: new Float32Array(3) }, meta: {} }),
    /CoLM state: expected moments of \d+ features/,
  );
  for (const t of [colm, plain, other]) await t.release();
  await colm.release(); // idempotent
});
