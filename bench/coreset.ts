/**
 * Coresets on the default model's `mixture` task (data/mixture.*.jsonl: sources bio, qa, stories,
 * a small QA source and noise rows). Validation for CLD = the held-out biography wording 4 of each
 * person, eval = wording 5 (disjoint rows). Every run: the same steps, lr, schedule and seed; eval
 * loss = mean token NLL on the eval rows.
 * 1. CLD: a 30 % coreset (one proxy trajectory, seed 0, default options; scored with align row, our
 *    default, and align class, the paper's) vs a 30 % random subset (one per seed) vs all rows.
 * 2. CoLM: batch 16 drawn; CoLM keeps 8 (ratio 0.5; last-layer gradient features, and the paper's
 *    zeroth-order ones) vs a random 8 of the same 16 vs training on all 16.
 * 3. `--parts oracle` (calibration): a 30 % random subset of the bio and qa rows only, i.e. an
 *    oracle that knows which sources the eval is about.
 * 4. `--parts colm-dup`: as 2 on the mixture with the Q/A rows of 4 of the 12 people repeated 5 more times
 *    (redundant rows in the drawn batches).
 * Seeds are first-seed, first-seed + 1, … (default 1: the Trainer's shuffle maps seeds 0 and 1 to
 * the same order). `--selection F` reuses a CLD selection file (written there on the first run).
 * Usage: deno task bench:coreset [--steps 30] [--seeds 3] [--parts cld,colm,colm-dup,oracle] [--selection F] [--first-seed 1]
 *        [--backend node]
 */
import { parseArgs } from "node:util";
import { loadModel } from "../src/models/load.ts";
import { readJsonl, type Row } from "../src/data/rows.ts";
import { encodeRows, loadTokenizer } from "../src/data/tokenize.ts";
import type { Example } from "../src/data/example.ts";
import { ModelRunner } from "../src/models/runner.ts";
import type { Weights } from "../src/models/weights.ts";
import { evaluateLoss } from "../src/eval/loss.ts";
import { Trainer, type TrainerHooks } from "../src/train/trainer.ts";
import { shuffledOrder } from "../src/data/order.ts";
import { cldAlign, cldScores, cldTrajectory, topK } from "../src/coreset/cld.ts";
import { smallSources } from "../src/coreset/colm.ts";
import { colmHooks, rowSources } from "../src/coreset/train_hooks.ts";
import type { Backend } from "../src/runtime/backend.ts";

const { values: a } = parseArgs({
  options: {
    steps: { type: "string", default: "30" },
    seeds: { type: "string", default: "3" },
    parts: { type: "string", default: "cld,colm" },
    fraction: { type: "string", default: "0.3" },
    backend: { type: "string", default: "node" },
    selection: { type: "string" },
    "first-seed": { type: "string", default: "1" },
  },
});
const backend = a.backend as Backend, steps = Number(a.steps), fraction = Number(a.fraction);
const seeds = Array.from({ length: Number(a.seeds) }, (_, i) => i + Number(a["first-seed"])),
  parts = a.parts.split(",");
const dir = new URL("../models/default", import.meta.url).pathname;
const data = new URL("../data/", import.meta.url).pathname;
const tok = await loadTokenizer(dir);
const base = await loadModel(dir);
const enc = (rows: Row[]) =>
  encodeRows(rows, { tokenizer: tok, maxLength: base.config.maxPositions, addBos: false });
const trainRows = await readJsonl(data + "mixture.train.jsonl");
const heldOut = await readJsonl(data + "mixture.eval.jsonl"); // wordings 4, 5 of each person, alternating
const valRows = heldOut.filter((_, i) => i % 2 === 0), evalRows = heldOut.filter((_, i) => i % 2 === 1);
const train = enc(trainRows), val = enc(valRows), evalEx = enc(evalRows), sources = rowSources(trainRows);
const k = Math.round(fraction * train.length);
const copy = (w: Weights): Weights => new Map([...w].map(([n, x]) => [n, x.slice()]));
const evalRunner = new ModelRunner(base.config, backend);
const evalLoss = async (w: Weights) => (await evaluateLoss(evalRunner, w, evalEx)).loss;
const before = await evalLoss(base.weights);
const composition = (idx: number[]) => {
  const c: Record<string, number> = {};
  for (const i of idx) c[sources[i] ?? "-"] = (c[sources[i] ?? "-"] ?? 0) + 1;
  return Object.entries(c).map(([s, n]) => `${s} ${n}`).join(", ");
};
const load = () => Deno.loadavg().map((x) => x.toFixed(1)).join(" ");
const loadStart = load();
console.error(`load average ${loadStart} at the start`);
console.error(
  `mixture: ${train.length} rows (${composition(train.map((_, i) => i))}); eval before ${before.toFixed(4)}`,
);

async function run(rows: Example[], seed: number, batchSize = 8, hooks?: TrainerHooks) {
  const w = copy(base.weights), t0 = performance.now();
  const opts = { steps, lr: 1e-3, batchSize, warmup: 3, schedule: "cosine" as const, seed };
  const t = new Trainer(base.config, w, rows, opts, backend, {}, hooks);
  await t.run();
  await t.release();
  return { loss: await evalLoss(w), seconds: (performance.now() - t0) / 1000 };
}
const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
const sd = (x: number[]) => Math.sqrt(mean(x.map((v) => (v - mean(x)) ** 2)));
const table: { arm: string; rows: string; losses: number[]; seconds: number[] }[] = [];
const report = (arm: string, rows: string, r: { loss: number; seconds: number }[]) => {
  table.push({ arm, rows, losses: r.map((x) => x.loss), seconds: r.map((x) => x.seconds) });
  console.error(
    `${arm}: ${r.map((x) => x.loss.toFixed(4)).join(" ")} (${
      mean(r.map((x) => x.seconds)).toFixed(0)
    } s/run)`,
  );
};

if (parts.includes("cld")) {
  // one proxy trajectory (default CLD options), scored both ways
  const t0 = performance.now();
  let sel: { row: number[]; rowGlobal: number[]; class: number[]; seconds: number } | undefined;
  try {
    if (a.selection) sel = JSON.parse(await Deno.readTextFile(a.selection));
  } catch { /* not there yet */ }
  if (!sel) {
    const traj = await cldTrajectory(base.config, base.weights, train, val, {
      backend,
      seed: 0,
      onCheckpoint: (e, of) => console.error(`cld checkpoint ${e}/${of}`),
    });
    const row = cldAlign(traj, sources, rowSources(valRows), "row");
    sel = {
      row: topK(row.scores, k, row.match, "matched"), // the defaults
      rowGlobal: topK(row.scores, k),
      class: topK(cldScores(traj, sources, rowSources(valRows), "class"), k), // as the paper, global top-k
      seconds: (performance.now() - t0) / 1000,
    };
  }
  if (a.selection) await Deno.writeTextFile(a.selection, JSON.stringify(sel));
  console.error(
    `CLD trajectory ${sel.seconds.toFixed(0)} s; row: ${composition(sel.row)}; row global: ${
      composition(sel.rowGlobal)
    }; class: ${composition(sel.class)}`,
  );
  const all: { loss: number; seconds: number }[] = [], rnd: typeof all = [];
  const cldRow: typeof all = [], cldRowGlobal: typeof all = [], cldClass: typeof all = [];
  const rndComp: string[] = [];
  for (const seed of seeds) {
    all.push(await run(train, seed));
    const r = shuffledOrder(train.length, 1000 + seed).slice(0, k);
    rndComp.push(composition(r));
    rnd.push(await run(r.map((i) => train[i]), seed));
    cldRow.push(await run(sel.row.map((i) => train[i]), seed));
    cldRowGlobal.push(await run(sel.rowGlobal.map((i) => train[i]), seed));
    cldClass.push(await run(sel.class.map((i) => train[i]), seed));
  }
  report("all rows", `${train.length}`, all);
  report(`random ${fraction * 100} %`, `${k} (seed ${seeds[0]}: ${rndComp[0]})`, rnd);
  report(
    `CLD ${fraction * 100} %, align row, budget matched (defaults)`,
    `${k} (${composition(sel.row)}); trajectory ${sel.seconds.toFixed(0)} s`,
    cldRow,
  );
  report(
    `CLD ${fraction * 100} %, align row, global top-k`,
    `${k} (${composition(sel.rowGlobal)})`,
    cldRowGlobal,
  );
  report(
    `CLD ${fraction * 100} %, align class, global top-k (paper's score)`,
    `${k} (${composition(sel.class)})`,
    cldClass,
  );
}

if (parts.includes("oracle")) {
  const relevant = train.map((_, i) => i).filter((i) => sources[i] === "bio" || sources[i] === "qa");
  const oracle: { loss: number; seconds: number }[] = [];
  for (const seed of seeds) {
    const o = shuffledOrder(relevant.length, 2000 + seed).slice(0, k).map((j) => relevant[j]);
    oracle.push(await run(o.map((i) => train[i]), seed));
  }
  report(`oracle: random ${fraction * 100} % of the bio + qa rows`, `${k}`, oracle);
}

/** Random `c.length / 2` of the drawn rows (seeded), the baseline of every CoLM arm. */
const randomHalf = (seed: number): TrainerHooks => {
  let s = (seed * 2654435761) >>> 0 || 1;
  const u = () => ((s ^= s << 13, s ^= s >>> 17, s ^= s << 5) >>> 0) / 4294967296;
  return {
    selectBatch: (c) =>
      c.map((e) => ({ e, k: u() })).sort((x, y) => x.k - y.k).slice(0, c.length / 2).map((x) => x.e),
  };
};
/** Full batch, random half and CoLM halves (both features) of the same drawn batches of `rows`. */
async function colmArms(rows: Example[], rowSrc: (string | undefined)[], label: string, withFull: boolean) {
  const full: { loss: number; seconds: number }[] = [], rand: typeof full = [];
  const colm: typeof full = [], zo: typeof full = [];
  for (const seed of seeds) {
    if (withFull) full.push(await run(rows, seed, 16));
    rand.push(await run(rows, seed, 16, randomHalf(seed)));
    for (const [feature, out] of [["grad", colm], ["zo", zo]] as const) {
      const { hooks, selector } = colmHooks(
        base.config,
        rows,
        rowSrc,
        { ratio: 0.5, seed, feature },
        backend,
      );
      out.push(await run(rows, seed, 16, hooks));
      await selector.release();
    }
  }
  const kept = [...smallSources(rowSrc)].join(", ");
  if (withFull) report(`${label}full batch 16`, "all", full);
  report(`${label}random 8 of 16`, "all", rand);
  report(`${label}CoLM 8 of 16, last-layer gradients (default)`, `all (kept whole: ${kept})`, colm);
  report(
    `${label}CoLM 8 of 16, zeroth-order features (the paper's estimator)`,
    `all (kept whole: ${kept})`,
    zo,
  );
}

if (parts.includes("colm")) {
  // every arm draws the same 16 rows per step (the Trainer's seeded order) and trains on all or half of them
  await colmArms(train, sources, "", true);
}

if (parts.includes("colm-dup")) {
  // redundancy: the Q/A rows of the first 4 of the 12 people repeated 5 more times (rows of a source grouped
  // by person, 9 each), so a random half batch over-samples those people; the eval covers all 12
  const qa = train.map((_, i) => i).filter((i) => sources[i] === "qa").slice(0, 36);
  const dup = [...train, ...Array.from({ length: 5 }, () => qa.map((i) => train[i])).flat()];
  const dupSources = [...sources, ...Array.from({ length: 5 }, () => qa.map((i) => sources[i])).flat()];
  console.error(`mixture + duplicates: ${dup.length} rows`);
  await colmArms(dup, dupSources, "duplicated Q/A: ", false);
}

console.log(
  `| arm (${steps} steps, lr 1e-3 cosine) | rows | eval loss, mean ± sd over ${seeds.length} seeds | per seed | s/run |`,
);
console.log("|---|---|---|---|---|");
for (const r of table) {
  console.log(
    `| ${r.arm} | ${r.rows} | ${mean(r.losses).toFixed(4)} ± ${sd(r.losses).toFixed(4)} | ` +
      `${r.losses.map((x) => x.toFixed(4)).join(", ")} | ${mean(r.seconds).toFixed(0)} |`,
  );
}
console.error(`load average ${loadStart} at the start, ${load()} at the end`);
console.log(JSON.stringify({ before, steps, k, arms: table, load: { start: loadStart, end: load() } }));
await evalRunner.release();
