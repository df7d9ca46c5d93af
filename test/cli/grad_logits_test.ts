/** CLI `grad` and `logits` per the DESIGN contract, on tiny model dirs written by the test. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readSafetensors, toFloat32 } from "../../src/io/safetensors.ts";
import { cli, writeModel } from "./_cli.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import { makeBatch } from "../../src/data/batch.ts";
import { writeTinyTokenizer } from "../data/_fixtures.ts";
import { tinyGpt2, tinyLlama } from "../models/_tiny.ts";
import { assertClose } from "../_util.ts";

Deno.test("cli grad: mean NLL over all target tokens of ragged rows, gradients keyed by HF names", async () => {
  const dir = await Deno.makeTempDir();
  const cfg = tinyLlama();
  const w = await writeModel(join(dir, "m"), cfg);
  const rows = [
    { input_ids: [1, 2, 3, 4, 5] },
    { input_ids: [7, 8, 9], labels: [-100, 8, 9] },
  ];
  await Deno.writeTextFile(join(dir, "d.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n"));
  const r = await cli([
    "grad",
    "--model",
    join(dir, "m"),
    "--data",
    join(dir, "d.jsonl"),
    "--out",
    join(dir, "g.safetensors"),
    "--backend",
    "node",
  ]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.json!.tokens as number, 4 + 2); // 4 shifted targets in row 0, 2 in row 1 (first label ignored)
  // reference: per-row sums computed separately, then averaged over all 6 targets
  const runner = new ModelRunner(cfg, "node");
  const ex = (ids: number[], labels: number[]) => ({
    inputIds: Int32Array.from(ids),
    labels: Int32Array.from(labels),
    row: 0,
  });
  const a = await runner.lossAndGrad(w, makeBatch([ex([1, 2, 3, 4, 5], [2, 3, 4, 5, -100])]), 1 / 6);
  const b = await runner.lossAndGrad(w, makeBatch([ex([7, 8, 9], [8, 9, -100])]), 1 / 6);
  assertClose([r.json!.loss as number], [a.lossSum + b.lossSum], { rtol: 1e-5, label: "loss" });
  const { tensors } = await readSafetensors(join(dir, "g.safetensors"));
  assert.deepEqual([...tensors.keys()].sort(), paramSpecs(cfg).map((s) => s.name).sort());
  const g = toFloat32(tensors.get("model.layers.0.self_attn.q_proj.weight")!);
  const want = a.grads.get("model.layers.0.self_attn.q_proj.weight")!.map((x, i) =>
    x + b.grads.get("model.layers.0.self_attn.q_proj.weight")![i]
  );
  assertClose(g, want, { atol: 1e-6, rtol: 1e-4, label: "q_proj grad" });
  await runner.release();
});

Deno.test("cli grad: GPT-2 keys keep the transformer. prefix; tied head has no key of its own", async () => {
  const dir = await Deno.makeTempDir();
  await writeModel(join(dir, "m"), tinyGpt2(), "transformer.");
  await Deno.writeTextFile(join(dir, "d.jsonl"), JSON.stringify({ input_ids: [1, 2, 3] }));
  const r = await cli([
    "grad",
    "--model",
    join(dir, "m"),
    "--data",
    join(dir, "d.jsonl"),
    "--out",
    join(dir, "g.safetensors"),
    "--backend",
    "node",
  ]);
  assert.equal(r.code, 0, r.err);
  const { tensors } = await readSafetensors(join(dir, "g.safetensors"));
  assert.ok(tensors.has("transformer.wte.weight") && tensors.has("transformer.h.1.mlp.c_fc.weight"));
  assert.ok(![...tensors.keys()].some((k) => k.startsWith("lm_head")));
  assert.deepEqual(tensors.get("transformer.h.0.attn.c_attn.weight")!.shape, [16, 48]); // Conv1D [in, out]
});

Deno.test("cli logits: one [T,V] tensor per row with padding cut off, text rows tokenized", async () => {
  const dir = await Deno.makeTempDir();
  const cfg = { ...tinyLlama(), vocabSize: 270 };
  await writeModel(join(dir, "m"), cfg);
  await writeTinyTokenizer(join(dir, "m"));
  await Deno.writeTextFile(join(dir, "d.jsonl"), `{"text":"hello world"}\n{"input_ids":[5,6]}\n`);
  const r = await cli([
    "logits",
    "--model",
    join(dir, "m"),
    "--data",
    join(dir, "d.jsonl"),
    "--out",
    join(dir, "l.safetensors"),
    "--backend",
    "node",
  ]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.json, { rows: 2 });
  const { tensors } = await readSafetensors(join(dir, "l.safetensors"));
  assert.equal(tensors.get("logits.1")!.shape.join(), "2,270");
  assert.ok(tensors.get("logits.0")!.shape[0] > 2);
});

Deno.test("cli: bad input exits 1 with a one-line error naming the problem", async () => {
  const dir = await Deno.makeTempDir();
  await writeModel(join(dir, "m"), tinyLlama());
  await Deno.writeTextFile(join(dir, "d.jsonl"), `{"input_ids":[1,2]}\n{"input_ids":[1,"x"]}\n`);
  const bad = await cli([
    "grad",
    "--model",
    join(dir, "m"),
    "--data",
    join(dir, "d.jsonl"),
    "--out",
    join(dir, "g.safetensors"),
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /line 2/);
  assert.equal(bad.err.split("\n").length, 1);
  const noModel = await cli([
    "grad",
    "--model",
    join(dir, "nope"),
    "--data",
    join(dir, "d.jsonl"),
    "--out",
    "x",
  ]);
  assert.equal(noModel.code, 1);
  const badBackend = await cli([
    "logits",
    "--model",
    join(dir, "m"),
    "--data",
    "d",
    "--out",
    "x",
    "--backend",
    "cuda",
  ]);
  assert.match(badBackend.err, /--backend/);
  await Deno.writeTextFile(join(dir, "long.jsonl"), JSON.stringify({ input_ids: Array(70).fill(1) }));
  const long = await cli([
    "grad",
    "--model",
    join(dir, "m"),
    "--data",
    join(dir, "long.jsonl"),
    "--out",
    join(dir, "g2.safetensors"),
  ]);
  assert.match(long.err, /line 1.*context/);
  await assert.rejects(Deno.stat(join(dir, "g2.safetensors")));
});
