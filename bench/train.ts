/**
 * Train-step throughput: fwd + bwd + AdamW on random tokens, the same work as
 * ../shared/peers/torch_train_step.py (random init, 2 warm-up steps, 5 timed).
 * Usage: deno task bench:train --shape tiny|default|gpt2|smollm --backend wasm|node|webgpu|lean [--steps 5]
 *        [--recompute true|false] (lean: recompute block activations in the backward; default true)
 * `default` is the built-in model's config at B8×T128.
 * Last stdout line: {"shape","backend","tokens_per_s","ms_per_step","peak_rss_mb"}.
 */
import { parseArgs } from "node:util";
import { ModelRunner } from "../src/models/runner.ts";
import { initParams } from "../src/models/params.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { makeBatch } from "../src/data/batch.ts";
import { peakRssMb } from "../src/util/rss.ts";
import { type Backend, BACKENDS } from "../src/runtime/backend.ts";
import { defaultShape, randomTokenRows, shapeConfig, type ShapeName, SHAPES } from "./shapes.ts";

const { values } = parseArgs({
  options: {
    shape: { type: "string", default: "tiny" },
    backend: { type: "string", default: "wasm" },
    steps: { type: "string", default: "5" },
    recompute: { type: "string", default: "true" },
  },
});
const shape = values.shape as ShapeName | "default", backend = values.backend as Backend;
if (!(shape in SHAPES) && shape !== "default") {
  throw new Error(`--shape must be one of ${[...Object.keys(SHAPES), "default"]}`);
}
if (!(BACKENDS as readonly string[]).includes(backend)) {
  throw new Error(`--backend must be one of ${BACKENDS}`);
}
const { config, seq, batch } = shape === "default" ? defaultShape() : shapeConfig(shape);
const runner = new ModelRunner(config, backend, undefined, undefined, undefined, {
  recompute: values.recompute !== "false",
});
const weights = initParams(runner.specs, 0);
const rows = randomTokenRows(config.vocabSize, batch, seq);
const b = makeBatch(rows);
const opt = new AdamW({ weightDecay: 0.01 });
const timing = { graph: 0, optim: 0 };
async function step() {
  const t0 = performance.now();
  const { lossSum, grads } = await runner.lossAndGrad(weights, b);
  const t1 = performance.now();
  opt.update(weights, grads, 1e-4);
  timing.graph += t1 - t0;
  timing.optim += performance.now() - t1;
  return lossSum;
}
const tc = performance.now();
console.error(
  `loss at step 1: ${(await step()).toFixed(4)} (incl. compile: ${
    ((performance.now() - tc) / 1000).toFixed(1)
  } s)`,
);
await step();
timing.graph = timing.optim = 0;
const n = Number(values.steps);
const t0 = performance.now();
let loss = 0;
for (let i = 0; i < n; i++) loss = await step();
const ms = (performance.now() - t0) / n;
console.error(
  `loss ${loss.toFixed(4)}; per step: graph ${(timing.graph / n).toFixed(0)} ms, AdamW ${
    (timing.optim / n).toFixed(0)
  } ms`,
);
console.log(JSON.stringify({
  shape,
  backend,
  tokens_per_s: Math.round((batch * seq) / (ms / 1000)),
  ms_per_step: Math.round(ms),
  peak_rss_mb: Math.round(peakRssMb()),
}));
await runner.release();
if (backend === "lean") {
  const { profile } = await import("../src/runtime/lean/program.ts");
  for (const [op, ms, calls] of profile?.table() ?? []) {
    console.error(
      `${op.padEnd(20)} ${(ms / (n + 2)).toFixed(1).padStart(8)} ms/step  ${calls / (n + 2)} calls/step`,
    );
  }
}
