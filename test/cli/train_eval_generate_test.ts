/** CLI train / eval / generate per the DESIGN contract. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, writeModel } from "./_cli.ts";
import { writeTinyTokenizer } from "../data/_fixtures.ts";
import { tinyLlama } from "../models/_tiny.ts";

async function setup() {
  const dir = await Deno.makeTempDir();
  const cfg = { ...tinyLlama(), vocabSize: 270, hidden: 32, ffn: 64 };
  await writeModel(join(dir, "m"), cfg);
  await writeTinyTokenizer(join(dir, "m"));
  const rows = [
    { prompt: "the hello", completion: " world" },
    { text: "hello the world, hello" },
    { question: "who?", answer: " the hello" },
  ];
  await Deno.writeTextFile(join(dir, "d.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n"));
  return dir;
}

Deno.test("cli train --method full: loss falls, writes an HF dir that reloads and evaluates identically", async () => {
  const dir = await setup();
  const r = await cli([
    "train",
    "--model",
    join(dir, "m"),
    "--data",
    join(dir, "d.jsonl"),
    "--out",
    join(dir, "out"),
    "--steps",
    "30",
    "--lr",
    "0.01",
    "--batch-size",
    "3",
    "--warmup",
    "3",
    "--backend",
    "node",
  ]);
  assert.equal(r.code, 0, r.err);
  const j = r.json as Record<string, number>;
  assert.ok(j.loss_end < j.loss_start / 2, JSON.stringify(j));
  assert.equal(j.steps, 30);
  assert.ok(j.tokens_per_s > 0 && j.peak_rss_mb > 0);
  assert.equal(j.optimizer_state_bytes > 0, true);
  assert.match(r.err, /step 30\/30 loss/);
  for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]) {
    await Deno.stat(join(dir, "out", f));
  }
  const e1 = await cli([
    "eval",
    "--model",
    join(dir, "out"),
    "--data",
    join(dir, "d.jsonl"),
    "--backend",
    "node",
  ]);
  const e2 = await cli([
    "eval",
    "--model",
    join(dir, "out"),
    "--data",
    join(dir, "d.jsonl"),
    "--backend",
    "wasm",
  ]);
  assert.equal(e1.code, 0, e1.err);
  const ev = e1.json as Record<string, number>;
  assert.ok(Math.abs(ev.loss - (e2.json as Record<string, number>).loss) < 1e-5);
  assert.ok(Math.abs(ev.ppl - Math.exp(ev.loss)) < 1e-9);
  assert.ok(ev.loss < j.loss_start / 2);
});

Deno.test("cli train: a run stopped at --until-step and --resume'd ends at the same weights as one run", async () => {
  const dir = await setup();
  const base = [
    "--model",
    join(dir, "m"),
    "--data",
    join(dir, "d.jsonl"),
    "--lr",
    "0.01",
    "--batch-size",
    "2",
  ];
  const run = (extra: string[]) => cli(["train", ...base, "--backend", "node", "--steps", "6", ...extra]);
  const one = await run(["--out", join(dir, "a")]);
  assert.equal(one.code, 0, one.err);
  const ck = join(dir, "ck");
  const chunk = await run(["--until-step", "3", "--checkpoint-dir", ck, "--out", join(dir, "b")]);
  assert.equal((chunk.json as Record<string, number>).steps, 3);
  await assert.rejects(Deno.stat(join(dir, "b"))); // no model dir from an unfinished run
  const resumed = await run(["--checkpoint-dir", ck, "--resume", "--out", join(dir, "b")]);
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.err, /resumed at step 3/);
  const a = await Deno.readFile(join(dir, "a", "model.safetensors"));
  const b = await Deno.readFile(join(dir, "b", "model.safetensors"));
  assert.ok(a.length === b.length && a.every((x, i) => x === b[i]), "weights differ");
});

Deno.test("cli generate: greedy continuation of a text prompt; bad flags are named", async () => {
  const dir = await setup();
  const r = await cli([
    "generate",
    "--model",
    join(dir, "m"),
    "--prompt",
    "hello",
    "--max-new-tokens",
    "5",
    "--backend",
    "node",
  ]);
  assert.equal(r.code, 0, r.err);
  assert.equal(typeof r.json!.text, "string");
  const bad = await cli(["generate", "--model", join(dir, "m"), "--prompt", "x", "--max-new-tokens", "-3"]);
  assert.match(bad.err, /--max-new-tokens/);
  const unknown = await cli([
    "train",
    "--model",
    join(dir, "m"),
    "--data",
    "x",
    "--out",
    "y",
    "--stepz",
    "3",
  ]);
  assert.match(unknown.err, /--stepz: unknown flag/);
  const galore = await cli([
    "train",
    "--model",
    join(dir, "m"),
    "--data",
    join(dir, "d.jsonl"),
    "--out",
    join(dir, "never"),
    "--method",
    "sgd",
  ]);
  assert.match(galore.err, /--method/);
  await assert.rejects(Deno.stat(join(dir, "never")));
});
