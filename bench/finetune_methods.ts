/**
 * Fine-tuning methods on the default model's `new-facts` task (data/new_facts.*.jsonl): the same
 * steps, batch and seed for full AdamW, LoRA, GaLore, Q-GaLore (INT4 projectors + INT8 weights)
 * and DCT; reports eval loss (held-out biography wordings), optimizer-state bytes and time.
 * Usage: deno task bench:finetune [--steps 60] [--backend node] [--rank 32] [--seeds 1]
 */
import { parseArgs } from "node:util";
import { loadModel } from "../src/models/load.ts";
import { readJsonl } from "../src/data/rows.ts";
import { encodeRows, loadTokenizer } from "../src/data/tokenize.ts";
import { ModelRunner } from "../src/models/runner.ts";
import { evaluateLoss } from "../src/eval/loss.ts";
import { type TrainableModel, Trainer } from "../src/train/trainer.ts";
import { buildProjectors, lowRankTargets } from "../src/optim/lowrank.ts";
import { GaLoreProjector } from "../src/optim/galore.ts";
import { QGaLoreProjector } from "../src/optim/qgalore.ts";
import { DctProjector } from "../src/optim/dct.ts";
import { int8Source, QuantizedWeights } from "../src/optim/int8_weights.ts";
import { setupLora } from "../src/lora/setup.ts";
import type { Backend } from "../src/runtime/backend.ts";

const { values: a } = parseArgs({
  options: {
    steps: { type: "string", default: "60" },
    backend: { type: "string", default: "node" },
    rank: { type: "string", default: "32" },
    methods: { type: "string", default: "full,lora,galore,qgalore,dct" },
  },
});
const backend = a.backend as Backend, rank = Number(a.rank), steps = Number(a.steps);
const dir = new URL("../models/default", import.meta.url).pathname;
const tok = await loadTokenizer(dir);
const data = new URL("../data/", import.meta.url).pathname;
const base = await loadModel(dir);
const enc = async (f: string) =>
  encodeRows(await readJsonl(data + f), {
    tokenizer: tok,
    maxLength: base.config.maxPositions,
    addBos: false,
  });
const train = await enc("new_facts.train.jsonl"), evalRows = await enc("new_facts.eval.jsonl");
const before = (await evaluateLoss(new ModelRunner(base.config, backend), base.weights, evalRows)).loss;
console.error(`eval loss before fine-tuning: ${before.toFixed(4)}`);

const rows: Record<string, unknown>[] = [];
for (const method of a.methods.split(",")) {
  const m = await loadModel(dir);
  let weights: Map<string, Float32Array> = m.weights;
  const model: TrainableModel = {};
  let lr = 1e-3;
  if (method === "lora") {
    const l = setupLora(m.config, weights, {
      rank,
      alpha: 2 * rank,
      targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    });
    Object.assign(model, l.model);
    lr = 3e-3;
  }
  const make = {
    galore: (r: number, c: number) => new GaLoreProjector(r, c, { rank, updateGap: 20, scale: 1 }),
    qgalore: (r: number, c: number) => new QGaLoreProjector(r, c, { rank, updateGap: 20, scale: 1 }),
    dct: (r: number, c: number) => new DctProjector(r, c, { rank, updateGap: 1 }),
  }[method];
  if (make) model.projectors = buildProjectors(m.config, make);
  if (method === "qgalore") {
    const names = new Set(lowRankTargets(m.config).map((t) => t.name));
    const qw = new QuantizedWeights(weights);
    for (const n of names) qw.store(n, weights.get(n)!, 256, 0, false);
    weights = qw;
    model.int8 = { source: int8Source(names, 256), groupSize: 256 };
  }
  const t0 = performance.now();
  const t = new Trainer(
    m.config,
    weights,
    train,
    { steps, lr, batchSize: 8, warmup: 5, schedule: "cosine", seed: 0 },
    backend,
    model,
  );
  const infos = await t.run();
  const seconds = (performance.now() - t0) / 1000;
  const after = (await evaluateLoss(t.runner, weights, evalRows)).loss;
  await t.release();
  const row = {
    method,
    eval_loss_before: Number(before.toFixed(4)),
    eval_loss_after: Number(after.toFixed(4)),
    train_loss_end: Number(infos.at(-1)!.loss.toFixed(4)),
    optimizer_state_bytes: t.optimizer.stateBytes,
    seconds: Number(seconds.toFixed(1)),
    tokens_per_s: Math.round(infos.at(-1)!.tokensPerS),
  };
  rows.push(row);
  console.error(JSON.stringify(row));
}
console.log(
  `| method | eval loss after ${steps} steps (before ${
    before.toFixed(3)
  }) | optimizer state KB | time s | tokens/s |\n|---|---|---|---|---|`,
);
for (const r of rows) {
  console.log(
    `| ${r.method} | ${r.eval_loss_after} | ${
      ((r.optimizer_state_bytes as number) / 1024).toFixed(0)
    } | ${r.seconds} | ${r.tokens_per_s} |`,
  );
}
console.log(JSON.stringify(rows));
