/** `POST /v1/plan` and the memory budget at submit (POSTTRAIN_MEMORY_BUDGET). */
import assert from "node:assert/strict";
import { post, ROWS, testApp } from "./_app.ts";
import { planRun } from "../../src/train/plan.ts";
import { parseConfig } from "../../src/models/config.ts";
import { join } from "node:path";

const FT = {
  type: "finetune",
  model: "tiny",
  method: "lora",
  data: ROWS,
  steps: 2,
  batch_size: 2,
  backend: "lean",
};

Deno.test("plan: a LoRA job on lean answers the exact plan of its step (planRun at the rows' longest length, padded to 16)", async () => {
  const t = await testApp();
  try {
    const res = await post(t.app, "/v1/plan?budget=300", FT);
    assert.equal(res.status, 200, await res.clone().text());
    const plan = await res.json();
    assert.equal(plan.exact, true);
    assert.equal(plan.shape.batch_size, 2);
    assert.equal(plan.shape.seq_len % 16, 0);
    assert.deepEqual(Object.keys(plan.fits), ["128MB", "256MB", "512MB", "300MB"]);
    const config = parseConfig(
      JSON.parse(await Deno.readTextFile(join(t.dir, "models", "tiny", "config.json"))),
    );
    const want = await planRun({
      config,
      method: "lora",
      batchSize: 2,
      seqLen: plan.shape.seq_len,
      backend: "lean",
    });
    assert.equal(plan.total_bytes, want.total_bytes);
    assert.deepEqual(plan.items, want.items);
    const sum = Object.values(plan.items as Record<string, number>).reduce((a, b) => a + b, 0);
    assert.equal(plan.total_bytes, sum);
    assert.match(plan.basis, /lora fine-tuning step/);
    // a longer row is a longer step: the plan follows the rows
    const long = await (await post(t.app, "/v1/plan", {
      ...FT,
      data: [...ROWS, { text: "hello the world, ".repeat(4) }],
    })).json();
    assert.ok(long.shape.seq_len > plan.shape.seq_len);
    assert.ok(long.items.arena_bytes > plan.items.arena_bytes);
  } finally {
    await t.close();
  }
});

Deno.test("plan: eval is planned, an onnxruntime backend is an estimate, unlearn is a labelled estimate, kfade and coreset are 422 not_plannable", async () => {
  const t = await testApp();
  try {
    const ev =
      await (await post(t.app, "/v1/plan", { type: "eval", model: "tiny", data: ROWS, backend: "lean" }))
        .json();
    assert.equal(ev.exact, true);
    assert.equal(ev.items.optimizer_bytes, 0);
    const ort = await (await post(t.app, "/v1/plan", { ...FT, backend: "wasm" })).json();
    assert.equal(ort.exact, false);
    assert.match(ort.basis, /estimate/);
    const un = await (await post(t.app, "/v1/plan", {
      type: "unlearn",
      model: "tiny",
      method: "graddiff",
      forget: ROWS.slice(0, 1),
      retain: ROWS.slice(1),
      backend: "lean",
    })).json();
    assert.equal(un.exact, false);
    assert.match(un.basis, /^estimate: unlearn graddiff/);
    assert.ok(un.items.reference_bytes > 0);
    assert.equal(
      un.total_bytes,
      Object.values(un.items as Record<string, number>).reduce((a, b) => a + b, 0),
    );
    const kf = await post(t.app, "/v1/plan", {
      type: "unlearn",
      model: "tiny",
      method: "kfade",
      forget: ROWS.slice(0, 1),
      retain: ROWS.slice(1),
    });
    assert.equal(kf.status, 422);
    const kfe = (await kf.json()).error;
    assert.equal(kfe.code, "not_plannable");
    assert.equal(kfe.path, "method");
    assert.match(kfe.message, /kfade/);
    const co = await post(t.app, "/v1/plan", {
      type: "coreset",
      model: "tiny",
      method: "cld",
      data: ROWS,
      val: ROWS,
      k: 1,
    });
    assert.equal(co.status, 422);
    assert.equal((await co.json()).error.code, "not_plannable");
    // a bad row is the same 422 as at submit, naming the row
    const bad = await post(t.app, "/v1/plan", { ...FT, data: [ROWS[0], { prompt: "x" }] });
    assert.equal(bad.status, 422);
    assert.equal((await bad.json()).error.path, "data.1.completion");
  } finally {
    await t.close();
  }
});

Deno.test("plan: with a memory budget, a job that does not fit is refused at submit with 422 and its plan; one that fits is queued", async () => {
  // the tiny model on lean: runtime 56 MiB + a few KB; full AdamW on wasm: runtime 165 MiB
  const t = await testApp({ memoryBudgetMb: 100 });
  try {
    const over = await post(t.app, "/v1/jobs", { ...FT, method: "full", backend: "wasm" });
    assert.equal(over.status, 422);
    const e = (await over.json()).error;
    assert.equal(e.code, "over_budget");
    assert.match(e.message, /100 MiB/);
    assert.equal(e.plan.fits["100MB"], false);
    assert.equal(e.plan.budget_mb, 100);
    assert.ok(e.plan.total_bytes > 100 * 2 ** 20);
    assert.equal((await (await t.app.request("/v1/jobs")).json()).data.length, 0);
    const ok = await post(t.app, "/v1/jobs", FT);
    assert.equal(ok.status, 202, await ok.clone().text());
    // the plan route reports the server's budget too
    const p = await (await post(t.app, "/v1/plan", FT)).json();
    assert.equal(p.budget_mb, 100);
    assert.equal(p.fits["100MB"], true);
    // a body that does not validate is the route's 422, not the budget's
    const bad = await post(t.app, "/v1/jobs", { ...FT, steps: -1 });
    assert.equal(bad.status, 422);
    assert.equal((await bad.json()).error.path, "steps");
  } finally {
    await t.close();
  }
});
