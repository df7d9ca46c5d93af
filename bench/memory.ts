/**
 * Where the memory of a Q-GaLore fine-tuning step goes: builds the method as `train --method
 * qgalore` does (setupLowRank), runs a few steps on random tokens and prints current and peak RSS
 * after each phase (weights, INT8 store, forward+backward, optimizer update) to stderr, plus the
 * analytic sizes of what the process holds (weights as fed, gradients returned, optimizer state,
 * logits), and one JSON line on stdout.
 * Usage: deno run -A bench/memory.ts --shape smollm --backend wasm --batch 1 [--steps 2] [--rank 128]
 *        [--low-memory]   (sessions without memory arena / patterns: TrainableModel.lowMemory)
 *        [--targets q_proj,…,embed_tokens]   (module suffixes to project; default attention + MLP)
 */
import { parseArgs } from "node:util";
import { initParams } from "../src/models/params.ts";
import { ModelRunner } from "../src/models/runner.ts";
import { Trainer } from "../src/train/trainer.ts";
import { setupLowRank } from "../src/train/lowrank_setup.ts";
import type { QuantizedWeights } from "../src/optim/int8_weights.ts";
import { peakRssMb } from "../src/util/rss.ts";
import type { Weights } from "../src/models/weights.ts";
import type { Backend } from "../src/runtime/backend.ts";
import { randomTokenRows, shapeConfig, type ShapeName } from "./shapes.ts";

const { values: a } = parseArgs({
  options: {
    shape: { type: "string", default: "smollm" },
    backend: { type: "string", default: "wasm" },
    batch: { type: "string" },
    seq: { type: "string" },
    steps: { type: "string", default: "2" },
    rank: { type: "string", default: "128" },
    "low-memory": { type: "boolean", default: false },
    targets: { type: "string" },
  },
});

const MB = 2 ** 20;
function rssMb(): number {
  const m = Deno.readTextFileSync("/proc/self/status").match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : Deno.memoryUsage().rss / MB;
}
const t0 = performance.now();
const phases: { phase: string; t_s: number; rss_mb: number; peak_mb: number }[] = [];
function mark(phase: string): void {
  const t_s = Number(((performance.now() - t0) / 1000).toFixed(1));
  const p = { phase, t_s, rss_mb: Math.round(rssMb()), peak_mb: Math.round(peakRssMb()) };
  phases.push(p);
  console.error(
    `${String(t_s).padStart(7)} s  ${phase.padEnd(28)} rss ${String(p.rss_mb).padStart(6)} MB   peak ${
      String(p.peak_mb).padStart(6)
    } MB`,
  );
}

const geo = shapeConfig(a.shape as ShapeName), config = geo.config;
const batch = Number(a.batch ?? geo.batch), seq = Number(a.seq ?? geo.seq), steps = Number(a.steps);
mark("start");
const specs = new ModelRunner(config, "node").specs;
const fp32 = initParams(specs, 0);
mark("fp32 init weights");
const { model, weights } = await setupLowRank("qgalore", config, fp32, {
  rank: Number(a.rank),
  targets: a.targets?.split(","),
});
mark("INT8 store");
const examples = randomTokenRows(config.vocabSize, batch, seq);
const t = new Trainer(
  config,
  weights,
  examples,
  { steps, lr: 1e-4, batchSize: batch, maxGradNorm: 0 },
  a.backend as Backend,
  { ...model, lowMemory: a["low-memory"] },
);
const runner = t.runner, opt = t.optimizer;
const lossAndGrad = runner.lossAndGrad.bind(runner);
const update = opt.update.bind(opt) as (w: Weights, g: Weights, lr: number) => void;
let gradBytes = 0;
runner.lossAndGrad = async (...args) => {
  const r = await lossAndGrad(...args);
  gradBytes = [...r.grads.values()].reduce((x, g) => x + g.byteLength, 0);
  mark(`step ${opt.step + 1} forward+backward`);
  return r;
};
opt.update = (w: Weights, g: Weights, lr: number) => {
  update(w, g, lr);
  mark(`step ${opt.step} optimizer update`);
};
const infos = await t.run();
await t.release();
mark("released");

const qw = weights as QuantizedWeights;
const floatBytes = [...qw.floatEntries()].reduce((x, [, v]) => x + v.byteLength, 0);
const sizes = {
  int8_codes_mb: qw.quantizedBytes / MB,
  fp32_weights_mb: floatBytes / MB,
  grads_returned_mb: gradBytes / MB,
  optimizer_state_mb: opt.stateBytes / MB,
  logits_mb: (batch * seq * config.vocabSize * 4) / MB,
};
console.error(Object.entries(sizes).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", "));
console.log(JSON.stringify({
  shape: a.shape,
  backend: a.backend,
  low_memory: a["low-memory"],
  rank: Number(a.rank),
  targets: a.targets ?? null,
  batch,
  seq,
  peak_rss_mb: Math.round(peakRssMb()),
  steps: infos.length,
  ...Object.fromEntries(Object.entries(sizes).map(([k, v]) => [k, Math.round(v)])),
  phases,
}));
