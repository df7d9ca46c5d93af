/** The library API (mod.ts): finetune / evaluate / generate / exportModel on a tiny model, and their errors. */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  defaultModelDir,
  evaluate,
  exportModel,
  finetune,
  generate,
  httpStatus,
  PosttrainError,
  resolveModelDir,
} from "../mod.ts";
import { ROWS, tinyModelDir } from "./routes/_app.ts";

Deno.test("api: finetune (inline rows and JSONL) → evaluate improves → generate → exportModel", async () => {
  const dir = await Deno.makeTempDir();
  const model = await tinyModelDir(join(dir, "m"));
  const out = join(dir, "out");
  const steps: number[] = [];
  const r = await finetune({
    model,
    data: ROWS,
    out,
    steps: 20,
    lr: 0.01,
    batchSize: 3,
    backend: "node",
    logEvery: 5,
    onStep: (s) => steps.push(s.step),
  });
  assert.deepEqual(steps, [5, 10, 15, 20]);
  assert.equal(r.steps, 20);
  assert.ok(r.lossEnd < r.lossStart && r.peakRssMb > 0 && r.optimizerStateBytes > 0, JSON.stringify(r));
  const jsonl = join(dir, "d.jsonl");
  await Deno.writeTextFile(jsonl, ROWS.map((x) => JSON.stringify(x)).join("\n"));
  const before = await evaluate({ model, data: jsonl, backend: "node" });
  const after = await evaluate({ model: out, data: ROWS, backend: "node" });
  assert.ok(after.loss < before.loss && Math.abs(after.ppl - Math.exp(after.loss)) < 1e-9);
  const g = await generate({ model: out, prompt: "the hello", maxNewTokens: 3, backend: "node" });
  assert.equal(typeof g.text, "string");
  const lora = join(dir, "lora");
  await finetune({ model, data: ROWS, out: lora, method: "lora", rank: 2, steps: 3, backend: "node" });
  const merged = await evaluate({ model, adapter: [lora], data: ROWS, backend: "node" });
  assert.ok(Number.isFinite(merged.loss));
  // dataIndices as a list trains on those rows only: the same weights as passing the rows themselves
  const picked = join(dir, "picked"), subset = join(dir, "subset");
  await finetune({
    model,
    data: ROWS,
    dataIndices: [2, 0],
    out: picked,
    steps: 3,
    lr: 0.01,
    backend: "node",
  });
  await finetune({ model, data: [ROWS[2], ROWS[0]], out: subset, steps: 3, lr: 0.01, backend: "node" });
  const [x, y] = await Promise.all([picked, subset].map((d) => Deno.readFile(join(d, "model.safetensors"))));
  assert.ok(x.length === y.length && x.every((v, i) => v === y[i]), "dataIndices trained on other rows");
  const { files } = await exportModel({ model: out, out: join(dir, "web") });
  assert.ok(files.includes("onnx/model.onnx"), files.join());
});

Deno.test("api: errors name the option (unknown method, rows, resume without a checkpoint dir, data indices)", async () => {
  const dir = await Deno.makeTempDir();
  const model = await tinyModelDir(join(dir, "m"));
  const isApi = (code: string, path: string) => (e: unknown) =>
    e instanceof PosttrainError && e.code === code && e.path === path && httpStatus(e) === 422;
  await assert.rejects(
    finetune({ model, data: ROWS, out: join(dir, "x"), method: "nope" as "full" }),
    isApi("invalid_option", "method"),
  );
  await assert.rejects(
    finetune({ model, data: ROWS, out: join(dir, "x"), resume: true }),
    isApi("invalid_option", "checkpointDir"),
  );
  await assert.rejects(finetune({ model, data: ROWS }), isApi("invalid_option", "out"));
  const rejectsWith = (o: Partial<Parameters<typeof finetune>[0]>, msg: RegExp) =>
    assert.rejects(
      finetune({ model, data: ROWS, out: join(dir, "x"), backend: "node", ...o }),
      (e) => isApi("invalid_option", "dataIndices")(e) && msg.test((e as Error).message),
    );
  await rejectsWith({ dataIndices: [0, 3] }, /^dataIndices\[1\]: index 3 is out of range for 3 rows$/);
  await rejectsWith({ dataIndices: [2, 2] }, /^dataIndices\[1\]: index 2 is listed twice$/);
  await rejectsWith({ dataIndices: join(dir, "none.json") }, /none\.json: cannot read the selection/);
  await assert.rejects(
    finetune({ model, data: ROWS, out: join(dir, "x"), coreset: "colm", coresetRatio: 2 }),
    isApi("invalid_option", "coresetRatio"),
  );
  await assert.rejects(
    evaluate({ model, data: [{ text: "ok" }, { prompt: 1 }] }),
    /row 2: "prompt" must be a string/,
  );
  await assert.rejects(evaluate({ model, data: join(dir, "missing.jsonl") }), /data file not found/);
});

Deno.test("api: 'default' names models/default at the package root", () => {
  const want = new URL("../models/default", import.meta.url).pathname;
  assert.equal(defaultModelDir(), want);
  assert.equal(resolveModelDir("default"), want);
  assert.equal(resolveModelDir("./x"), "./x");
});
