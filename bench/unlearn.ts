/**
 * The unlearning benchmark (`deno task eval:unlearn`): the default model's fictitious people, TOFU-style
 * (src/build/unlearn_data.ts): forget = the Q/A rows of the last `--forget` people, retain = everyone else's,
 * holdout = never-seen people, stories = held-out corpus stories. The gold model is the default model's recipe
 * retrained without the forget people (cached in `--out`/retrain; `--retrain-steps` shortens it). Every method
 * unlearns the same original weights to the same forget effect: it stops (first-order) or sizes its steps
 * (K-FADE) when the mean forget NLL reaches `orig + level·(retrain − orig)` for each `--levels` value, so the
 * methods are compared at equal forget NLL. Metrics: src/eval/unlearn_metrics.ts. Prints markdown tables to
 * stderr and one JSON line to stdout; writes `results.json` to `--out`.
 * Usage: deno task eval:unlearn [--forget 10] [--levels 0.5,1] [--methods ga,graddiff,npo,wagle-graddiff,wagle-npo,kfade]
 *   [--retrain-steps 1200] [--options '{"kfade":{"dampingScale":0.01}}'] [--out .tmp/unlearn-bench] [--backend node]
 *   [--tofu DIR (forget.jsonl, retain.jsonl, holdout.jsonl in TOFU format) --retrained DIR --model DIR]
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { join } from "node:path";
import { loadModel } from "../src/models/load.ts";
import { ModelRunner } from "../src/models/runner.ts";
import { loadTokenizer } from "../src/data/tokenize.ts";
import type { Backend } from "../src/runtime/backend.ts";
import { unlearn, type UnlearnOptionsInput } from "../src/unlearn/unlearn.ts";
import { fitCurvature, kfadeLayers, KfadeOptionsSchema } from "../src/unlearn/kfade.ts";
import type { KfacEigen } from "../src/unlearn/kfac.ts";
import {
  encodeEvalRows,
  readTofu,
  retrainWithout,
  type TofuRow,
  toPromptRow,
  unlearnBenchmark,
} from "../src/build/unlearn_data.ts";
import {
  evaluateUnlearnModel,
  meanNll,
  type ModelEval,
  type UnlearnMetrics,
  unlearnMetrics,
} from "../src/eval/unlearn_metrics.ts";
import { encodeRows } from "../src/data/tokenize.ts";

const { values: a } = parseArgs({
  options: {
    forget: { type: "string", default: "10" },
    levels: { type: "string", default: "0.5,1" },
    methods: { type: "string", default: "ga,graddiff,npo,wagle-graddiff,wagle-npo,kfade" },
    "retrain-steps": { type: "string" },
    options: { type: "string", default: "{}" },
    out: { type: "string", default: new URL("../.tmp/unlearn-bench", import.meta.url).pathname },
    backend: { type: "string", default: "node" },
    tofu: { type: "string" },
    retrained: { type: "string" },
    model: { type: "string", default: new URL("../models/default", import.meta.url).pathname },
    "retain-eval-every": { type: "string", default: "10" },
  },
});
const backend = a.backend as Backend, out = a.out!, log = (s: string) => console.error(s);
await Deno.mkdir(out, { recursive: true });
const tok = await loadTokenizer(a.model!);
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

// ── data: the project's benchmark, or TOFU-format files ──
let split: { forget: TofuRow[]; retain: TofuRow[]; holdout: TofuRow[]; stories: string[] };
let retrainedDir = a.retrained;
if (a.tofu) {
  split = {
    forget: await readTofu(join(a.tofu, "forget.jsonl")),
    retain: await readTofu(join(a.tofu, "retain.jsonl")),
    holdout: await readTofu(join(a.tofu, "holdout.jsonl")),
    stories: [],
  };
  if (!retrainedDir) throw new Error("--tofu needs --retrained (a model trained without the forget rows)");
} else {
  const b = unlearnBenchmark({ forget: Number(a.forget) });
  split = b;
  const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
  for (const [name, rows] of [["forget", b.forget], ["retain", b.retain], ["holdout", b.holdout]] as const) {
    await Deno.writeTextFile(join(out, `${name}.tofu.jsonl`), jsonl(rows));
    await Deno.writeTextFile(join(out, `${name}.jsonl`), jsonl(rows.map((r) => toPromptRow(r))));
  }
  if (!retrainedDir) {
    retrainedDir = join(out, "retrain");
    const recipe = JSON.stringify({
      forget: b.forgetPeople.map((p) => p.id),
      steps: a["retrain-steps"] ?? "default",
    });
    const have = await Deno.readTextFile(join(out, "retrain.recipe.json")).catch(() => "");
    const exists = await Deno.stat(join(retrainedDir, "model.safetensors")).then(() => true, () => false);
    if (have !== recipe || !exists) {
      log(`retraining the gold model without ${b.forgetPeople.length} people (the default model's recipe)…`);
      const r = await retrainWithout(b.forgetPeople, a.model!, retrainedDir, {
        tokenizer: tok,
        backend,
        log,
        steps: a["retrain-steps"] ? Number(a["retrain-steps"]) : undefined,
      });
      log(`retrained: ${r.steps} steps, final train loss ${r.loss.toFixed(3)}, ${Math.round(r.seconds)} s`);
      await Deno.writeTextFile(join(out, "retrain.recipe.json"), recipe);
    }
  }
}
const every = Number(a["retain-eval-every"]);
const people = [...new Set(split.retain.map((r, i) => r.person ?? String(Math.floor(i / 9))))];
const evalPeople = new Set(people.filter((_, i) => i % every === 0));
const retainEval = split.retain.filter((r, i) => evalPeople.has(r.person ?? String(Math.floor(i / 9))));
const base = await loadModel(a.model!);
const maxLength = base.config.maxPositions;
const rows = encodeEvalRows({ ...split, retain: retainEval }, tok, maxLength);
const forgetEx = encodeRows(split.forget.map((r) => toPromptRow(r)), { tokenizer: tok, maxLength });
const retainEx = encodeRows(split.retain.map((r) => toPromptRow(r)), { tokenizer: tok, maxLength });
log(
  `forget ${forgetEx.length} rows, retain ${retainEx.length} (eval ${rows.retain.length}), holdout ${rows.holdout.length}`,
);

// ── references ──
const runner = new ModelRunner(base.config, backend);
const orig = await evaluateUnlearnModel(runner, base.weights, rows);
const retrained = await loadModel(retrainedDir!);
const gold = await evaluateUnlearnModel(runner, retrained.weights, rows);
const lo = meanNll(orig.forget), hi = meanNll(gold.forget);
log(`forget NLL: original ${lo.toFixed(4)}, retrained ${hi.toFixed(4)}`);

// ── methods ──
const overrides = JSON.parse(a.options!) as Record<string, UnlearnOptionsInput>;
type Row =
  & { method: string; level: number; steps: number; seconds: number; cpuSeconds: number }
  & UnlearnMetrics;
const results: Row[] = [];
const metricsOf = (e: ModelEval) => unlearnMetrics(e, orig, gold);
results.push({ method: "original", level: 0, steps: 0, seconds: 0, cpuSeconds: 0, ...metricsOf(orig) });
results.push({ method: "retrained", level: 1, steps: 0, seconds: 0, cpuSeconds: 0, ...metricsOf(gold) });
/** Variants by name: K-FADE without refits, and with plain K-FAC eigenvalues. */
const ALIASES: Record<string, UnlearnOptionsInput> = {
  "kfade-static": { method: "kfade", noRefit: true },
  "kfade-kfac": { method: "kfade", noRefit: true, plainKfac: true },
};
const fits = new Map<string, { eig: KfacEigen; seconds: number; cpu: number }>();
for (const level of a.levels!.split(",").map(Number)) {
  const target = lo + level * (hi - lo);
  for (const method of a.methods!.split(",")) {
    const m = await loadModel(a.model!);
    const o = {
      method,
      steps: 300,
      targetForgetLoss: target,
      ...ALIASES[method],
      ...overrides[method],
    } as UnlearnOptionsInput;
    let fit: { eig: KfacEigen; seconds: number; cpu: number } | undefined;
    if (o.method === "kfade") {
      // the first retain curvature depends only on the original weights: fit once, charge it to every run
      const ko = KfadeOptionsSchema.parse(o);
      const key = JSON.stringify([ko.fitRows, ko.plainKfac, ko.modules, ko.fisherSamples]);
      if (!fits.has(key)) {
        const [t0, c0] = [performance.now(), cpu()];
        const eig = await fitCurvature(
          m.config,
          m.weights,
          retainEx.slice(0, ko.fitRows),
          kfadeLayers(m.config, ko.modules),
          ko,
          {
            backend,
            seed: 42,
          },
        );
        fits.set(key, { eig, seconds: (performance.now() - t0) / 1000, cpu: cpu() - c0 });
        log(
          `kfade curvature: ${fits.get(key)!.seconds.toFixed(0)} s wall, ${
            fits.get(key)!.cpu.toFixed(0)
          } s CPU`,
        );
      }
      fit = fits.get(key);
    }
    const c0 = cpu();
    const r = await unlearn(m.config, m.weights, forgetEx, retainEx, o, {
      backend,
      log: (s) => s.startsWith("unlearn step") || log(`[${method} ${level}] ${s}`),
      evalRetain: [],
      eig: fit?.eig,
    });
    const extra = fit ? [fit.seconds, fit.cpu] : [0, 0];
    const e = await evaluateUnlearnModel(runner, m.weights, rows);
    results.push({
      method,
      level,
      steps: r.steps,
      seconds: r.seconds + extra[0],
      cpuSeconds: cpu() - c0 + extra[1],
      ...metricsOf(e),
    });
    log(JSON.stringify(results.at(-1)));
  }
}
await runner.release();
await Deno.writeTextFile(
  join(out, "results.json"),
  JSON.stringify({ forgetNll: { original: lo, retrained: hi }, results }, null, 1),
);

const f = (x: number | undefined, d = 3) => (x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(d));
const e = (x: number) => (x < 0.01 ? x.toExponential(1) : x.toFixed(3));
log(
  "\n| method | level | forget NLL | gap closed (NLL) | gap closed (KL) | KL to retrained, forget | retain KL to original | KL to retrained, retain | stories KL to original | steps | time s (CPU s) |",
);
log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of results) {
  log(
    `| ${r.method} | ${r.level} | ${f(r.forgetNll)} | ${f(r.gapClosedNll, 2)} | ${f(r.gapClosedKl, 2)} | ${
      e(r.klForgetToRetrain)
    } | ` +
      `${e(r.klRetainToOrig)} | ${e(r.klRetainToRetrain)} | ${e(r.klStoriesToOrig)} | ${r.steps} | ${
        Math.round(r.seconds)
      } (${Math.round(r.cpuSeconds)}) |`,
  );
}
log(
  "\n| method | level | retain NLL | forget acc | retain acc | forget exact | truth ratio forget | truth ratio retain | forget quality (KS p) | MIA AUC |",
);
log("|---|---|---|---|---|---|---|---|---|---|");
for (const r of results) {
  log(
    `| ${r.method} | ${r.level} | ${f(r.retainNll)} | ${f(r.forgetAcc)} | ${f(r.retainAcc)} | ${
      f(r.forgetExact, 2)
    } | ` +
      `${f(r.truthRatioForget)} | ${f(r.truthRatioRetain)} | ${
        r.forgetQuality === undefined ? "–" : r.forgetQuality.toExponential(1)
      } | ${f(r.miaAuc)} |`,
  );
}
console.log(JSON.stringify({ forget_nll_original: lo, forget_nll_retrained: hi, runs: results.length }));
