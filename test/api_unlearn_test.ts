/** The library's unlearn / coreset (mod.ts): they run the engines, write their outputs, and name bad input. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { coreset, evaluate, finetune, unlearn } from "../mod.ts";
import { readSafetensors } from "../src/io/safetensors.ts";
import { ROWS, tinyModelDir } from "./routes/_app.ts";

Deno.test("api: unlearn raises the forget loss, writes the model and the update; coreset selects k rows for finetune", async () => {
  const dir = await Deno.makeTempDir();
  const model = await tinyModelDir(join(dir, "m"));
  const [forget, retain] = [ROWS.slice(0, 1), ROWS.slice(1)];
  const steps: number[] = [];
  const r = await unlearn({
    model,
    forget,
    retain,
    method: "graddiff",
    steps: 5,
    lr: 1e-2,
    batchSize: 1,
    out: join(dir, "u"),
    saveUpdate: join(dir, "u.safetensors"),
    backend: "node",
    onStep: (p) => steps.push(p.step),
  });
  assert.deepEqual(steps, [1, 2, 3, 4, 5]);
  assert.ok(r.forgetLossAfter > r.forgetLossBefore, JSON.stringify(r));
  const after = await evaluate({ model: join(dir, "u"), data: forget, backend: "node" });
  assert.ok(Math.abs(after.loss - r.forgetLossAfter) < 1e-4);
  assert.ok((await readSafetensors(join(dir, "u.safetensors"))).tensors.size > 0);
  await assert.rejects(
    unlearn({ model, forget, method: "npo", out: join(dir, "x"), backend: "node" }),
    /retain: required by method npo/,
  );
  await assert.rejects(Deno.stat(join(dir, "x")));

  const sel = await coreset({
    model,
    method: "cld",
    data: ROWS,
    val: ROWS.slice(0, 1),
    k: 2,
    epochs: 1,
    evalsPerEpoch: 3,
    out: join(dir, "s.json"),
    backend: "node",
  });
  assert.equal(sel.indices.length, 2);
  const t = await finetune({
    model,
    data: ROWS,
    dataIndices: join(dir, "s.json"),
    steps: 2,
    batchSize: 2,
    out: join(dir, "t"),
    backend: "node",
  });
  assert.equal(t.steps, 2);
  await assert.rejects(coreset({ model, method: "cld", data: ROWS, k: 2, backend: "node" }), /val/);
});
