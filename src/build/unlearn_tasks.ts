/**
 * @module The unlearning benchmarks as one shape (`deno task eval:unlearn --benchmark …`): a model, its gold
 * model retrained without the forget rows, the rows to unlearn, the evaluation rows, the relearning attack's
 * split and the rows of a further fine-tune.
 * - `people`: the default model's fictitious people, TOFU-style (unlearn_data.ts); gold = the default
 *   model's recipe without the forget people (cached in `out/people/retrain`), or TOFU-format files.
 * - `verbmem`, `facts`: a tiny LLaMA trained from scratch (unlearn_synthetic.ts); both models cached in
 *   `out/<name>/{original,retrained}` (HF dirs), with the rows as `input_ids` JSONL for the CLI.
 * Relearning split: the forget rows alternate (even rows = the attack's, odd rows = measured).
 */
import { join } from "node:path";
import type { Example } from "../data/example.ts";
import { encodeRows, loadTokenizer } from "../data/tokenize.ts";
import type { DecoderConfig } from "../models/config.ts";
import { loadModel } from "../models/load.ts";
import { paramSpecs } from "../models/model.ts";
import type { Weights } from "../models/weights.ts";
import { saveModelDir } from "../io/hf_dir.ts";
import type { EvalRows } from "../eval/unlearn_metrics.ts";
import type { TrainOptionsInput } from "../train/options.ts";
import type { Backend } from "../runtime/backend.ts";
import { personQA } from "./corpus.ts";
import { newPeople } from "./tasks.ts";
import {
  encodeEvalRows,
  readTofu,
  retrainWithout,
  type TofuRow,
  toPromptRow,
  unlearnBenchmark,
} from "./unlearn_data.ts";
import {
  factsBenchmark,
  type SyntheticBenchmark,
  TINY_CONFIG,
  tinyConfig,
  trainTiny,
  verbmemBenchmark,
} from "./unlearn_synthetic.ts";

/** Benchmarks of `eval:unlearn`. */
export const UNLEARN_BENCHMARKS = ["people", "verbmem", "facts"] as const;
/** A benchmark's name. */
export type UnlearnBenchmarkName = typeof UNLEARN_BENCHMARKS[number];

/** Everything a benchmark run needs. */
export interface UnlearnTask {
  name: string;
  /** One line on what is forgotten and what the gold model is. */
  about: string;
  config: DecoderConfig;
  /** The model to unlearn from and its retrained gold model. */
  original: Weights;
  retrained: Weights;
  /** Model dir of the original (reloaded for every run). */
  dir: string;
  forget: Example[];
  retain: Example[];
  eval: EvalRows;
  /** Relearning attack: fine-tune on `train` (forget rows), measure `test` (the other forget rows). */
  relearn: { train: Example[]; test: Example[]; opts: TrainOptionsInput };
  /** A further fine-tune of the original (new rows, tiny models: with the retain rows) before a stored update
   * is re-applied; its first `newRows` rows are the new ones. */
  further: { rows: Example[]; opts: TrainOptionsInput; newRows: number };
}

/** Options of {@link loadUnlearnTask}. */
export interface TaskOptions {
  out: string;
  backend?: Backend;
  log?: (s: string) => void;
  /** people: forget people (default 10), gold-model steps, default model dir, TOFU-format input. */
  forget?: number;
  retrainSteps?: number;
  model?: string;
  tofu?: string;
  retrained?: string;
  /** people: every `retainEvalEvery`-th person's rows are the retain evaluation rows (default 10). */
  retainEvalEvery?: number;
}

const split = (rows: Example[]) => ({
  train: rows.filter((_, i) => i % 2 === 0),
  test: rows.filter((_, i) => i % 2 === 1),
});

/**
 * Build (and cache) a benchmark's models and rows.
 *
 * @example
 * ```ts ignore
 * const task = await loadUnlearnTask("verbmem", { out: ".tmp/unlearn-bench", backend: "lean" });
 * ```
 */
export async function loadUnlearnTask(name: UnlearnBenchmarkName, o: TaskOptions): Promise<UnlearnTask> {
  if (name === "people") return await peopleTask(o);
  const b = name === "verbmem" ? verbmemBenchmark() : factsBenchmark();
  return await syntheticTask(b, o);
}

async function syntheticTask(b: SyntheticBenchmark, o: TaskOptions): Promise<UnlearnTask> {
  const dir = join(o.out, b.name), config = tinyConfig();
  await Deno.mkdir(dir, { recursive: true });
  const jsonl = (rows: Example[]) =>
    rows.map((e) => JSON.stringify({ input_ids: [...e.inputIds], labels: [-100, ...e.labels.slice(0, -1)] }))
      .join("\n") + "\n";
  for (const [f, rows] of [["forget", b.forget], ["retain", b.retain]] as const) {
    await Deno.writeTextFile(join(dir, `${f}.jsonl`), jsonl(rows));
  }
  const recipe = JSON.stringify({ config: TINY_CONFIG, steps: b.steps, forget: b.forget.length, v: 1 });
  const models: Weights[] = [];
  const trainSets: [string, Example[]][] = [["original", [...b.forget, ...b.retain]], [
    "retrained",
    b.retain,
  ]];
  for (const [which, rows] of trainSets) {
    const path = join(dir, which);
    const have = await Deno.readTextFile(join(path, "recipe.json")).catch(() => "");
    if (have !== recipe) {
      o.log?.(`${b.name}: training the ${which} tiny model (${b.steps} steps)…`);
      const t = await trainTiny(rows, { backend: o.backend, opts: { steps: b.steps } });
      o.log?.(`${b.name}: ${which} trained, loss ${t.loss.toFixed(4)}, ${t.seconds.toFixed(0)} s`);
      const shapes = new Map(paramSpecs(config).map((s) => [s.name, s.shape]));
      await saveModelDir(
        path,
        TINY_CONFIG,
        new Map(
          [...t.weights].map(([k, v]) => [k, { dtype: "F32" as const, shape: shapes.get(k)!, data: v }]),
        ),
      );
      await Deno.writeTextFile(join(path, "recipe.json"), recipe);
    }
    models.push((await loadModel(path)).weights);
  }
  const rel = split(b.forget);
  return {
    name: b.name,
    about: b.name === "verbmem"
      ? `${b.forget.length} of ${b.forget.length + b.retain.length} memorized random sequences`
      : `every fact of ${b.forget.length / 4} of ${(b.forget.length + b.retain.length) / 4} entities`,
    config,
    original: models[0],
    retrained: models[1],
    dir: join(dir, "original"),
    forget: b.forget,
    retain: b.retain,
    eval: {
      forget: b.forgetEval,
      retain: b.retainEval,
      holdout: b.holdout,
      stories: b.general,
      forgetPara: b.forgetEval,
      forgetPert: b.forgetWrong,
      retainPara: b.retainEval,
      retainPert: b.retainWrong,
    },
    relearn: { ...rel, opts: { steps: 10, lr: 1e-3, batchSize: 8, schedule: "constant" } },
    // continued training on new rows and the retain rows (not the forget rows)
    further: {
      rows: [...b.further, ...b.retain],
      opts: { steps: 60, lr: 3e-4, batchSize: 16, schedule: "constant" },
      newRows: b.further.length,
    },
  };
}

async function peopleTask(o: TaskOptions): Promise<UnlearnTask> {
  const model = o.model ?? new URL("../../models/default", import.meta.url).pathname;
  const tok = await loadTokenizer(model);
  let rows: { forget: TofuRow[]; retain: TofuRow[]; holdout: TofuRow[]; stories: string[] };
  let retrainedDir = o.retrained;
  const dir = join(o.out, "people");
  await Deno.mkdir(dir, { recursive: true });
  if (o.tofu) {
    rows = {
      forget: await readTofu(join(o.tofu, "forget.jsonl")),
      retain: await readTofu(join(o.tofu, "retain.jsonl")),
      holdout: await readTofu(join(o.tofu, "holdout.jsonl")),
      stories: [],
    };
    if (!retrainedDir) throw new Error("--tofu needs --retrained (a model trained without the forget rows)");
  } else {
    const b = unlearnBenchmark({ forget: o.forget ?? 10 });
    rows = b;
    const jsonl = (r: unknown[]) => r.map((x) => JSON.stringify(x)).join("\n") + "\n";
    for (const [f, r] of [["forget", b.forget], ["retain", b.retain], ["holdout", b.holdout]] as const) {
      await Deno.writeTextFile(join(dir, `${f}.tofu.jsonl`), jsonl(r));
      await Deno.writeTextFile(join(dir, `${f}.jsonl`), jsonl(r.map((x) => toPromptRow(x))));
    }
    if (!retrainedDir) {
      retrainedDir = join(dir, "retrain");
      const recipe = JSON.stringify({
        forget: b.forgetPeople.map((p) => p.id),
        steps: o.retrainSteps ?? "default",
      });
      const have = await Deno.readTextFile(join(dir, "retrain.recipe.json")).catch(() => "");
      const exists = await Deno.stat(join(retrainedDir, "model.safetensors")).then(() => true, () => false);
      if (have !== recipe || !exists) {
        o.log?.(
          `retraining the gold model without ${b.forgetPeople.length} people (the default model's recipe)…`,
        );
        const r = await retrainWithout(b.forgetPeople, model, retrainedDir, {
          tokenizer: tok,
          backend: o.backend,
          log: o.log,
          steps: o.retrainSteps,
        });
        o.log?.(
          `retrained: ${r.steps} steps, final train loss ${r.loss.toFixed(3)}, ${Math.round(r.seconds)} s`,
        );
        await Deno.writeTextFile(join(dir, "retrain.recipe.json"), recipe);
      }
    }
  }
  const every = o.retainEvalEvery ?? 10;
  const personOf = (r: TofuRow, i: number) => r.person ?? String(Math.floor(i / 9));
  const people = [...new Set(rows.retain.map(personOf))];
  const evalPeople = new Set(people.filter((_, i) => i % every === 0));
  const retainEval = rows.retain.filter((r, i) => evalPeople.has(personOf(r, i)));
  const base = await loadModel(model);
  const maxLength = base.config.maxPositions;
  const enc = (r: TofuRow[]) => encodeRows(r.map((x) => toPromptRow(x)), { tokenizer: tok, maxLength });
  const forget = enc(rows.forget);
  // the further fine-tune: Q/A rows of people neither model has seen (not the holdout people)
  const further = enc(
    newPeople(10, 3001).flatMap(personQA).map((q) => ({ question: q.question, answer: q.answer })),
  );
  return {
    name: "people",
    about: o.tofu
      ? `TOFU-format rows from ${o.tofu}`
      : `the Q/A rows of ${o.forget ?? 10} of the default model's 200 people`,
    config: base.config,
    original: base.weights,
    retrained: (await loadModel(retrainedDir!)).weights,
    dir: model,
    forget,
    retain: enc(rows.retain),
    eval: encodeEvalRows({ ...rows, retain: retainEval }, tok, maxLength),
    relearn: { ...split(forget), opts: { steps: 10, lr: 1e-4, batchSize: 8, schedule: "constant" } },
    further: {
      rows: further,
      opts: { steps: 30, lr: 1e-4, batchSize: 8, schedule: "constant" },
      newRows: further.length,
    },
  };
}
