/** Train-side coresets: the Trainer's selectBatch hook, CoLM per step, selection files, and the `coreset` CLI. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Trainer } from "../../src/train/trainer.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import { initParams } from "../../src/models/params.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { makeBatch } from "../../src/data/batch.ts";
import type { Example } from "../../src/data/example.ts";
import {
  colmHooks,
  CoresetTrainFlags,
  readIndices,
  rowSources,
  selectRows,
} from "../../src/coreset/train_hooks.ts";
import { coresetCommand } from "../../src/cli/coreset.ts";
import { parseFlags } from "../../src/cli/common.ts";
import { writeModel } from "../cli/_cli.ts";
import { tinyLlama } from "../models/_tiny.ts";
import { rng } from "../_util.ts";

function rows(n: number, vocab: number, seed: number): Example[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, row) => {
    const len = 4 + Math.floor(r() * 5);
    const ids = Int32Array.from({ length: len }, () => Math.floor(r() * vocab));
    return { inputIds: ids, labels: Int32Array.from(ids, (_, t) => (t + 1 < len ? ids[t + 1] : -100)), row };
  });
}

Deno.test("Trainer selectBatch hook: sees batchSize·gradAccum candidates in the seeded order, trains on its pick", async () => {
  const cfg = tinyLlama();
  const data = rows(10, cfg.vocabSize, 1);
  const opts = { steps: 2, lr: 1e-2, batchSize: 3, gradAccum: 2, seed: 5 };
  const plain = new Trainer(cfg, initParams(paramSpecs(cfg), 2), data, opts, "node");
  const seen: Example[][] = [];
  const hooked = new Trainer(cfg, initParams(paramSpecs(cfg), 2), data, opts, "node", {}, {
    selectBatch: (c) => {
      seen.push(c);
      return [c[1], c[4]];
    },
  });
  const ref = new ModelRunner(cfg, "node");
  const first = initParams(paramSpecs(cfg), 2);
  const info = await hooked.step();
  assert.equal(seen[0].length, 6);
  // the candidates are the rows the plain trainer's two micro-batches of 3 would use, in order
  const plainRows: bigint[][] = [];
  const orig = plain.runner.lossAndGrad.bind(plain.runner);
  plain.runner.lossAndGrad = (wt, b, ...rest) => {
    for (let i = 0; i < b.B; i++) plainRows.push([...b.inputIds.slice(i * b.T, i * b.T + 4)]);
    return orig(wt, b, ...rest);
  };
  await plain.step();
  assert.deepEqual(plainRows, seen[0].map((e) => [...e.inputIds.slice(0, 4)].map(BigInt)));
  const picked = makeBatch([seen[0][1], seen[0][4]]);
  const want = (await ref.lossSum(first, picked)).lossSum / picked.targetTokens;
  assert.ok(Math.abs(info.loss - want) < 1e-5, `${info.loss} vs ${want}`);
  assert.equal(info.tokens, picked.targetTokens);
  await assert.rejects(
    new Trainer(cfg, initParams(paramSpecs(cfg), 2), data, opts, "node", {}, { selectBatch: () => [] })
      .step(),
    /returned no rows/,
  );
  for (const t of [plain, hooked]) await t.release();
  await ref.release();
});

Deno.test("CoLM in the Trainer: every drawn small-source row is trained on, half of the rest", async () => {
  const cfg = tinyLlama();
  const data = rows(24, cfg.vocabSize, 4);
  const sources = data.map((_, i) => (i === 5 ? "small" : i % 2 ? "a" : "b"));
  const { hooks, selector } = colmHooks(cfg, data, sources, { ratio: 0.5, seed: 1 }, "node");
  const trained: Example[][] = [];
  const inner = hooks.selectBatch!;
  hooks.selectBatch = async (c, ctx) => {
    const out = await inner(c, ctx);
    trained.push(out);
    assert.equal(out.length, 4);
    assert.ok(!c.includes(data[5]) || out.includes(data[5]), "a drawn small-source row was dropped");
    return out;
  };
  const t = new Trainer(
    cfg,
    initParams(paramSpecs(cfg), 3),
    data,
    { steps: 3, lr: 1e-2, batchSize: 8, seed: 2 },
    "node",
    {},
    hooks,
  );
  await t.run();
  assert.equal(trained.length, 3);
  assert.ok(trained.some((b) => b.includes(data[5])), "3 steps of 8 draw each of the 24 rows once");
  await t.release();
  await selector.release();
});

Deno.test("selection files: selectRows picks rows in file order; bad files are errors naming the file", async () => {
  const dir = await Deno.makeTempDir();
  const f = join(dir, "s.json");
  await Deno.writeTextFile(f, JSON.stringify({ indices: [2, 0], scores: [0.9, 0.1] }));
  assert.deepEqual(await selectRows(["a", "b", "c"], f), ["c", "a"]);
  await assert.rejects(selectRows(["a"], f), /index 2 is out of range for 1 rows/);
  await Deno.writeTextFile(f, JSON.stringify({ indices: [1, 1] }));
  await assert.rejects(readIndices(f, 3), /listed twice/);
  await Deno.writeTextFile(f, JSON.stringify({ idx: [1] }));
  await assert.rejects(readIndices(f, 3), /s\.json: not a selection file/);
  assert.deepEqual(rowSources([{ text: "x", source: "q" }, { text: "y" }]), ["q", undefined]);
  const flags = parseFlags(CoresetTrainFlags, [
    "--coreset",
    "colm",
    "--coreset-ratio",
    "0.25",
    "--data-indices",
    f,
  ]);
  assert.deepEqual(flags, { coreset: "colm", coresetRatio: 0.25, dataIndices: f });
});

Deno.test("cli coreset: cld and colm write {indices, scores} and return {k}", async () => {
  const dir = await Deno.makeTempDir();
  const cfg = tinyLlama();
  await writeModel(join(dir, "m"), cfg);
  const r = rng(3);
  const line = (s: string) =>
    JSON.stringify({ input_ids: Array.from({ length: 6 }, () => Math.floor(r() * 50)), source: s });
  const data = Array.from({ length: 12 }, (_, i) => line(i === 4 ? "tiny" : i % 2 ? "a" : "b"));
  await Deno.writeTextFile(join(dir, "d.jsonl"), data.join("\n"));
  await Deno.writeTextFile(join(dir, "v.jsonl"), [line("a"), line("b")].join("\n"));
  const base = ["--model", join(dir, "m"), "--data", join(dir, "d.jsonl"), "--backend", "node", "--k", "5"];
  const log = console.error;
  console.error = () => {};
  try {
    for (const method of ["cld", "colm"]) {
      const out = join(dir, `${method}.json`);
      const extra = method === "cld"
        ? ["--val", join(dir, "v.jsonl"), "--epochs", "1"]
        : ["--keep-sources", "tiny"];
      const res = await coresetCommand([...base, "--method", method, "--out", out, ...extra]);
      assert.deepEqual(res, { k: 5, rows: 12 });
      const sel = JSON.parse(await Deno.readTextFile(out));
      assert.equal(sel.indices.length, 5);
      assert.equal(sel.scores.length, 5);
      assert.equal(new Set(sel.indices).size, 5);
      if (method === "colm") assert.equal(sel.indices[0], 4); // the kept source comes first
    }
    await assert.rejects(
      coresetCommand([...base, "--method", "cld", "--out", join(dir, "x.json")]),
      /--val: required/,
    );
    await assert.rejects(
      coresetCommand([...base.slice(0, -1), "13", "--method", "colm", "--out", join(dir, "x.json")]),
      /--k: 13 is more than the 12 rows/,
    );
  } finally {
    console.error = log;
  }
});
