/**
 * Uniform LoRA vs Sensitivity-LoRA at the same total rank budget on the default model's
 * `new-facts` task, mean over seeds; and the sensitivity pass's time as a share of the fine-tune.
 * Usage: deno task bench:sensitivity [--seeds 3] [--steps 60] [--rank 8] [--backend node] [--estimators gnb,hutchinson] [--calibration-rows N]
 */
import { parseArgs } from "node:util";
import { loadModel } from "../src/models/load.ts";
import { readJsonl } from "../src/data/rows.ts";
import { encodeRows, loadTokenizer } from "../src/data/tokenize.ts";
import { evaluateLoss } from "../src/eval/loss.ts";
import { Trainer } from "../src/train/trainer.ts";
import { setupLora } from "../src/lora/setup.ts";
import { sensitivityRanks } from "../src/lora/sensitivity.ts";
import type { Backend } from "../src/runtime/backend.ts";

const { values: a } = parseArgs({
  options: {
    seeds: { type: "string", default: "3" },
    steps: { type: "string", default: "60" },
    rank: { type: "string", default: "8" },
    backend: { type: "string", default: "node" },
    estimators: { type: "string", default: "gnb,hutchinson" },
    "calibration-rows": { type: "string" },
  },
});
const estimators = a.estimators!.split(",") as ("gnb" | "hutchinson")[];
const backend = a.backend as Backend, steps = Number(a.steps), rank = Number(a.rank);
const dir = new URL("../models/default", import.meta.url).pathname;
const data = new URL("../data/", import.meta.url).pathname;
const tok = await loadTokenizer(dir);
const cfg0 = (await loadModel(dir)).config;
const enc = async (f: string) =>
  encodeRows(await readJsonl(data + f), { tokenizer: tok, maxLength: cfg0.maxPositions, addBos: false });
const train = await enc("new_facts.train.jsonl"), evalRows = await enc("new_facts.eval.jsonl");
const targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
const budget = rank * targets.length * cfg0.layers;

const modes = ["uniform", ...estimators.map((e) => `sensitivity (${e})`)];
const results: Record<string, { loss: number[]; seconds: number[]; sens: number[] }> = Object.fromEntries(
  modes.map((m) => [m, { loss: [], seconds: [], sens: [] }]),
);
for (let seed = 0; seed < Number(a.seeds); seed++) {
  for (const [mi, mode] of modes.entries()) {
    const m = await loadModel(dir);
    let rankPattern: Record<string, number> = {}, sensS = 0;
    if (mi > 0) {
      // the schema's defaults (calibration rows, probes) except the estimator
      const s = await sensitivityRanks(m.config, m.weights, train, { targets }, budget, {
        seed,
        estimator: estimators[mi - 1],
        ...(a["calibration-rows"] ? { calibrationRows: Number(a["calibration-rows"]) } : {}),
      }, backend);
      rankPattern = Object.fromEntries(s.ranks);
      sensS = s.seconds;
      console.error(`seed ${seed} ranks: ${[...s.ranks.values()].join(",")}`);
    }
    const l = setupLora(m.config, m.weights, { rank, alpha: 16, targets, rankPattern }, seed);
    const t0 = performance.now();
    const t = new Trainer(
      m.config,
      m.weights,
      train,
      { steps, lr: 3e-3, batchSize: 8, warmup: 5, schedule: "cosine", seed },
      backend,
      l.model,
    );
    await t.run();
    const seconds = (performance.now() - t0) / 1000;
    const loss = (await evaluateLoss(t.runner, m.weights, evalRows)).loss;
    await t.release();
    results[mode].loss.push(loss);
    results[mode].seconds.push(seconds);
    results[mode].sens.push(sensS);
    console.error(
      `seed ${seed} ${mode}: eval loss ${loss.toFixed(4)}, fine-tune ${seconds.toFixed(1)} s, sensitivity ${
        sensS.toFixed(1)
      } s`,
    );
  }
}
const mean = (x: number[]) => x.reduce((p, q) => p + q, 0) / x.length;
const sd = (x: number[]) =>
  Math.sqrt(x.reduce((p, q) => p + (q - mean(x)) ** 2, 0) / Math.max(1, x.length - 1));
console.log(
  `| allocation (budget ${budget} over ${
    targets.length * cfg0.layers
  } matrices) | eval loss, mean ± sd over ${a.seeds} seeds | fine-tune s | sensitivity pass s (share) |\n|---|---|---|---|`,
);
for (const [k, r] of Object.entries(results)) {
  const share = mean(r.sens) / mean(r.seconds);
  console.log(
    `| ${k} | ${mean(r.loss).toFixed(4)} ± ${sd(r.loss).toFixed(4)} | ${mean(r.seconds).toFixed(1)} | ${
      mean(r.sens).toFixed(1)
    } (${(100 * share).toFixed(1)} %) |`,
  );
}
console.log(JSON.stringify(results));
