/**
 * @module Fine-tuning tasks on the default model, generated reproducibly:
 * `new-facts` — fictitious people the default model has never seen (a different seed than its
 * corpus; names checked against it): train = 4 biography wordings + question/answer rows for each,
 * eval = the 2 held-out biography wordings (the facts in unseen words).
 * `mixture` — the same with several sources: new facts, corpus stories, a small source (QA of a
 * few people) and noise rows, each row tagged with `source` (for coreset selection).
 * `deno task data:tasks [--out data]` writes them as JSONL.
 */
import { join } from "../io/path.ts";
import { biography, buildCorpus, generatePeople, mulberry32, type Person, personQA } from "./corpus.ts";
import { DEFAULT_MODEL, qaText } from "./default_model.ts";

/** A task: train and eval rows in the JSONL row contract. */
export interface Task {
  train: Record<string, unknown>[];
  eval: Record<string, unknown>[];
  people: Person[];
}

/** People the default model never saw (names disjoint from its corpus). */
export function newPeople(n: number, seed = 1001): Person[] {
  const seen = new Set(buildCorpus(DEFAULT_MODEL.corpus).people.map((p) => p.name));
  return generatePeople(n + 20, seed).filter((p) => !seen.has(p.name)).slice(0, n);
}

/** The `new-facts` task: 4 wordings + QA to train on, 2 unseen wordings to evaluate. */
export function newFactsTask(n = 12, seed = 1001): Task {
  const people = newPeople(n, seed);
  const train = people.flatMap((p) => [
    ...[0, 1, 2, 3].map((v) => ({ text: biography(p, v), source: "bio" })),
    ...personQA(p).map((q) => ({ text: qaText(q), source: "qa" })),
  ]);
  const evalRows = people.flatMap((p) => [4, 5].map((v) => ({ text: biography(p, v), source: "bio" })));
  return { train, eval: evalRows, people };
}

/** The `mixture` task: new facts + stories + a small QA source + noise rows, tagged by `source`. */
export function mixtureTask(seed = 1001): Task {
  const base = newFactsTask(12, seed);
  const r = mulberry32(seed);
  const stories = buildCorpus({ ...DEFAULT_MODEL.corpus, seed: seed + 1, people: 0, stories: 60 }).train
    .map((text) => ({ text, source: "stories" }));
  const small = newPeople(2, seed + 7).flatMap((p) => personQA(p).slice(0, 4)).map((q) => ({
    text: qaText(q),
    source: "small",
  }));
  const noise = Array.from({ length: 30 }, () => ({
    text: Array.from({ length: 40 }, () => String.fromCharCode(33 + Math.floor(r() * 90))).join(""),
    source: "noise",
  }));
  return { train: [...base.train, ...stories, ...small, ...noise], eval: base.eval, people: base.people };
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--out");
  const out = i >= 0 ? Deno.args[i + 1] : new URL("../../data", import.meta.url).pathname;
  await Deno.mkdir(out, { recursive: true });
  const write = (name: string, rows: Record<string, unknown>[]) =>
    Deno.writeTextFile(join(out, name), rows.map((x) => JSON.stringify(x)).join("\n") + "\n");
  const nf = newFactsTask(), mx = mixtureTask();
  await write("new_facts.train.jsonl", nf.train);
  await write("new_facts.eval.jsonl", nf.eval);
  await write("mixture.train.jsonl", mx.train);
  await write("mixture.eval.jsonl", mx.eval);
  console.log(
    JSON.stringify({
      new_facts: [nf.train.length, nf.eval.length],
      mixture: [mx.train.length, mx.eval.length],
    }),
  );
}
