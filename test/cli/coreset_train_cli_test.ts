/** CLI train with coresets: --data-indices (a `coreset` selection file) and --coreset colm (with exact resume). */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, writeModel } from "./_cli.ts";
import { tinyLlama } from "../models/_tiny.ts";
import { rng } from "../_util.ts";

async function setup() {
  const dir = await Deno.makeTempDir();
  const cfg = tinyLlama();
  await writeModel(join(dir, "m"), cfg);
  const r = rng(7);
  const rows = Array.from({ length: 12 }, (_, i) => ({
    input_ids: Array.from({ length: 5 + (i % 4) }, () => Math.floor(r() * cfg.vocabSize)),
    source: i === 2 ? "rare" : i % 2 ? "a" : "b",
  }));
  const jsonl = (rs: unknown[]) => rs.map((x) => JSON.stringify(x)).join("\n") + "\n";
  await Deno.writeTextFile(join(dir, "d.jsonl"), jsonl(rows));
  const picked = [9, 0, 4, 7, 2];
  await Deno.writeTextFile(join(dir, "sel.json"), JSON.stringify({ indices: picked, scores: picked }));
  await Deno.writeTextFile(join(dir, "subset.jsonl"), jsonl(picked.map((i) => rows[i])));
  const train = (data: string, extra: string[]) =>
    cli([
      "train",
      ...["--model", join(dir, "m"), "--data", join(dir, data), "--backend", "node"],
      ...["--steps", "4", "--lr", "0.01", "--batch-size", "2", ...extra],
    ]);
  return { dir, train };
}

const bytesEqual = async (a: string, b: string) => {
  const x = await Deno.readFile(a), y = await Deno.readFile(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

Deno.test("cli train --data-indices: trains on exactly the selected rows, in the file's order", async () => {
  const { dir, train } = await setup();
  const sel = await train("d.jsonl", ["--data-indices", join(dir, "sel.json"), "--out", join(dir, "a")]);
  assert.equal(sel.code, 0, sel.err);
  assert.match(sel.err, /train: 5 rows/);
  const sub = await train("subset.jsonl", ["--out", join(dir, "b")]);
  assert.equal(sub.code, 0, sub.err);
  assert.deepEqual(sel.json, {
    ...sub.json,
    tokens_per_s: sel.json!.tokens_per_s,
    peak_rss_mb: sel.json!.peak_rss_mb,
  });
  assert.ok(await bytesEqual(join(dir, "a", "model.safetensors"), join(dir, "b", "model.safetensors")));
});

Deno.test("cli train --data-indices: a bad selection is a one-line error naming the file and index; nothing written", async () => {
  const { dir, train } = await setup();
  const f = join(dir, "bad.json");
  const cases: [unknown, RegExp][] = [
    [{ indices: [3, 12] }, /bad\.json: index 12 is out of range for 12 rows/],
    [{ indices: [1, 1] }, /bad\.json: index 1 is listed twice/],
    [{ indices: [] }, /bad\.json: the selection is empty/],
    [{ rows: [1] }, /bad\.json: not a selection file: indices/],
  ];
  for (const [body, want] of cases) {
    await Deno.writeTextFile(f, JSON.stringify(body));
    const r = await train("d.jsonl", ["--data-indices", f, "--out", join(dir, "never")]);
    assert.equal(r.code, 1);
    assert.match(r.err, want);
    assert.equal(r.err.trim().split("\n").length, 1, r.err);
  }
  const missing = await train("d.jsonl", [
    "--data-indices",
    join(dir, "nope.json"),
    "--out",
    join(dir, "never"),
  ]);
  assert.match(missing.err, /nope\.json: cannot read the selection/);
  const ratio = await train("d.jsonl", ["--coreset-ratio", "0.5", "--out", join(dir, "never")]);
  assert.match(ratio.err, /--coreset-ratio: needs --coreset colm/);
  const range = await train("d.jsonl", [
    "--coreset",
    "colm",
    "--coreset-ratio",
    "1.5",
    "--out",
    join(dir, "never"),
  ]);
  assert.match(range.err, /--coreset-ratio:/);
  const method = await train("d.jsonl", ["--coreset", "cld", "--out", join(dir, "never")]);
  assert.match(method.err, /--coreset:/);
  await assert.rejects(Deno.stat(join(dir, "never")));
});

Deno.test("cli train --coreset colm: changes the trained rows; --until-step + --resume matches one run", async () => {
  const { dir, train } = await setup();
  const colm = ["--coreset", "colm", "--coreset-ratio", "0.5", "--grad-accum", "2"];
  const one = await train("d.jsonl", [...colm, "--out", join(dir, "one")]);
  assert.equal(one.code, 0, one.err);
  const plain = await train("d.jsonl", ["--grad-accum", "2", "--out", join(dir, "plain")]);
  assert.notDeepEqual(one.json!.loss_end, plain.json!.loss_end); // the coreset changes what is trained on
  const ck = join(dir, "ck");
  const part = await train("d.jsonl", [
    ...colm,
    "--until-step",
    "2",
    "--checkpoint-dir",
    ck,
    "--out",
    join(dir, "two"),
  ]);
  assert.equal(part.code, 0, part.err);
  const noColm = await train("d.jsonl", [
    "--grad-accum",
    "2",
    "--checkpoint-dir",
    ck,
    "--resume",
    "--out",
    join(dir, "x"),
  ]);
  assert.match(noColm.err, /batch-selection state/);
  const rest = await train("d.jsonl", [
    ...colm,
    "--checkpoint-dir",
    ck,
    "--resume",
    "--out",
    join(dir, "two"),
  ]);
  assert.equal(rest.code, 0, rest.err);
  assert.match(rest.err, /resumed at step 2/);
  assert.equal(rest.json!.loss_end, one.json!.loss_end);
  assert.ok(await bytesEqual(join(dir, "one", "model.safetensors"), join(dir, "two", "model.safetensors")));
});
