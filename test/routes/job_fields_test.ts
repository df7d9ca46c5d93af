/** Unlearn / coreset job fields and fine-tune coreset fields: 4xx naming the field, and the OpenAPI document. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { post, ROWS, testApp, tinyModelDir } from "./_app.ts";

const UNLEARN = { type: "unlearn", model: "tiny", method: "npo", forget: ROWS, retain: ROWS };
const CORESET = { type: "coreset", model: "tiny", method: "cld", data: ROWS, val: ROWS, k: 2 };
const FINETUNE = { type: "finetune", model: "tiny", data: ROWS, steps: 1 };

Deno.test("job fields: invalid unlearn, coreset and fine-tune coreset fields answer 4xx naming the field", async () => {
  const t = await testApp();
  try {
    const cases: [Record<string, unknown>, number, string, RegExp?][] = [
      [{ ...UNLEARN, method: "forgetting" }, 422, "method"],
      [{ ...UNLEARN, retain: undefined }, 422, "retain", /retain: required by method npo/],
      [{ ...UNLEARN, method: "ga", retain: undefined, retain_loss: "kl" }, 422, "retain", /retain_loss kl/],
      [{ ...UNLEARN, forget: [{ prompt: "x" }] }, 422, "forget.0.completion"],
      [
        { ...UNLEARN, forget: [{ input_ids: [1, 2], labels: [-100, -100] }] },
        422,
        "forget.0.labels",
        /no target/,
      ],
      [{ ...UNLEARN, retain: [ROWS[0], { input_ids: [5] }] }, 422, "retain.1.input_ids", /no target/],
      [{ ...UNLEARN, retain: [{ text: "ok" }, { input_ids: [99999] }] }, 422, "retain.1", /retain\.1/],
      [{ ...UNLEARN, mask_ratio: 2 }, 422, "mask_ratio"],
      [{ ...UNLEARN, kfade_stepz: 2 }, 422, "kfade_stepz", /unknown field/],
      [{ ...UNLEARN, retain_loss: "mse" }, 422, "retain_loss"],
      [{ ...UNLEARN, steps: 0 }, 422, "steps"],
      [{ ...UNLEARN, adapter: "job_nope" }, 404, "adapter"],
      [{ ...CORESET, val: undefined }, 422, "val", /val: required by method cld/],
      [{ ...CORESET, k: 4 }, 422, "k", /k: 4 is more than the 3 rows/],
      [{ ...CORESET, method: "random" }, 422, "method"],
      [{ ...CORESET, similarity: "dot" }, 422, "similarity"],
      [{ ...CORESET, keep_sources: [] }, 422, "keep_sources"],
      [{ ...CORESET, epochs: 0 }, 422, "epochs"],
      [{ ...CORESET, data: [{ text: 3 }] }, 422, "data.0.text"],
      [{ ...CORESET, val: [{ input_ids: [5, 6], labels: [-100, -100] }] }, 422, "val.0.labels", /no target/],
      [{ ...CORESET, data: [...ROWS, { input_ids: [7] }] }, 422, "data.3.input_ids", /no target/],
      [{ ...FINETUNE, data: [ROWS[0], { text: "a" }] }, 422, "data.1.text", /no target/],
      [{ ...FINETUNE, data: [ROWS[0], { text: "a" }], data_indices: [1] }, 422, "data.1.text"],
      [{ ...FINETUNE, method: "lora", targets: "nope" }, 422, "targets", /match no linear layer/],
      [{ ...FINETUNE, method: "galore", targets: ["nope"] }, 422, "targets", /match no linear layer/],
      [{ ...FINETUNE, method: "lora", rank_allocation: "sensitivity" }, 422, "rank_budget", /required/],
      [{ ...FINETUNE, method: "lora", rank_allocation: "sensitivity", rank_budget: 1 }, 422, "rank_budget"],
      [{ ...FINETUNE, data_indices: [0, 3] }, 422, "data_indices.1", /index 3 is out of range for 3 rows/],
      [{ ...FINETUNE, data_indices: [1, 1] }, 422, "data_indices.1", /listed twice/],
      [{ ...FINETUNE, data_indices: [-1] }, 422, "data_indices.0"],
      [{ ...FINETUNE, data_indices: "sel.json" }, 422, "data_indices"],
      [{ ...FINETUNE, coreset: "cld" }, 422, "coreset"],
      [{ ...FINETUNE, coreset: "colm", coreset_ratio: 0 }, 422, "coreset_ratio"],
    ];
    for (const [body, status, path, message] of cases) {
      const res = await post(t.app, "/v1/jobs", body);
      const err = (await res.json()).error;
      assert.equal(res.status, status, `${path}: ${JSON.stringify(err)}`);
      assert.equal(err.path, path, JSON.stringify(err));
      assert.ok(err.message.startsWith(path), JSON.stringify(err));
      if (message) assert.match(err.message, message);
    }
    // nothing was queued
    assert.deepEqual((await (await t.app.request("/v1/jobs")).json()).data, []);
    // an adapter must be a succeeded fine-tune or unlearn job: a coreset job is neither
    const c = await (await post(t.app, "/v1/jobs", { ...CORESET, method: "colm", val: undefined })).json();
    await t.runner.idle();
    const bad = await post(t.app, "/v1/jobs", { ...UNLEARN, adapter: c.id });
    assert.equal(bad.status, 422);
    assert.match((await bad.json()).error.message, /not a succeeded fine-tune or unlearn job/);
  } finally {
    await t.close();
  }
});

Deno.test("job fields: issue 12.5's coreset job (an empty completion, no EOS) is a 422 naming val.0.completion", async () => {
  const root = await Deno.makeTempDir();
  const dir = await tinyModelDir(join(root, "noeos"));
  const cfg = JSON.parse(await Deno.readTextFile(join(dir, "tokenizer_config.json")));
  delete cfg.eos_token;
  await Deno.writeTextFile(join(dir, "tokenizer_config.json"), JSON.stringify(cfg));
  const t = await testApp({ modelsRoot: root });
  try {
    const body = {
      type: "coreset",
      model: "noeos",
      method: "cld",
      k: 1,
      data: [{ text: "the hello" }, { text: "hello the" }],
      val: [{ prompt: "the", completion: "" }],
    };
    const res = await post(t.app, "/v1/jobs", body);
    const err = (await res.json()).error;
    assert.equal(res.status, 422, JSON.stringify(err));
    assert.equal(err.path, "val.0.completion");
    assert.match(err.message, /^val\.0\.completion: the row has no target tokens/);
    // with a completion it is accepted and runs
    const ok = await post(t.app, "/v1/jobs", { ...body, val: [{ prompt: "the", completion: " hello" }] });
    assert.equal(ok.status, 202);
    await t.runner.idle();
    const job = await (await t.app.request(`/v1/jobs/${(await ok.json()).id}`)).json();
    assert.equal(job.status, "succeeded", JSON.stringify(job.error));
  } finally {
    await t.close();
  }
});

Deno.test("job fields: /openapi.json lists the unlearn, coreset and fine-tune coreset options", async () => {
  const t = await testApp();
  try {
    const s = (await (await t.app.request("/openapi.json")).json()).components.schemas;
    const un = s.UnlearnJob;
    assert.deepEqual(un.required.sort(), ["forget", "method", "model", "type"]);
    assert.deepEqual(un.properties.method.enum, [
      "kfade",
      "wagle-graddiff",
      "wagle-npo",
      "ga",
      "graddiff",
      "npo",
    ]);
    for (
      const k of [
        "adapter",
        "retain",
        "steps",
        "lr",
        "retain_batch_size",
        "kfade_steps",
        "kl_budget",
        "damping_scale",
        "fit_rows",
        "mask_ratio",
        "wagle_gamma",
        "retain_loss",
        "beta",
        "target_forget_loss",
      ]
    ) {
      assert.ok(un.properties[k]?.description, `UnlearnJob.${k}`);
    }
    assert.equal(un.properties.kfade_steps.default, 3);
    assert.equal(un.properties.mask_ratio.default, 0.8);
    const cs = s.CoresetJob;
    assert.deepEqual(cs.required.sort(), ["data", "k", "method", "model", "type"]);
    for (
      const k of ["val", "k", "epochs", "evals_per_epoch", "budget", "zo_dim", "keep_sources", "similarity"]
    ) {
      assert.ok(cs.properties[k]?.description, `CoresetJob.${k}`);
    }
    assert.equal(cs.properties.evals_per_epoch.default, 16);
    const ft = s.FinetuneJob.properties;
    assert.equal(ft.data_indices.type, "array");
    assert.equal(ft.data_indices.items.type, "integer");
    assert.match(ft.data_indices.description, /0-based/);
    assert.deepEqual(ft.coreset.enum, ["colm"]);
    assert.equal(ft.coreset_ratio.default, 0.5);
    assert.ok(s.Job.properties.progress.properties.forget_loss.description);
  } finally {
    await t.close();
  }
});
