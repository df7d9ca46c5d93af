/** Jobs over HTTP: fine-tune → SSE → artifacts → eval / generate with the result; cancel; NaN; lists. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { post, readSse, ROWS, sha256, testApp, waitJob } from "./_app.ts";
import { evaluate, finetune } from "../../src/api.ts";
import { writeModel } from "../cli/_cli.ts";
import { tinyLlama } from "../models/_tiny.ts";
import { readSafetensors, toFloat32 } from "../../src/io/safetensors.ts";
import { saveModelDir } from "../../src/io/hf_dir.ts";
import { sweepFinished } from "../../src/jobs/retention.ts";
import { toHfConfig } from "../../src/models/config.ts";
import { paramSpecs } from "../../src/models/model.ts";

const FT = { type: "finetune", model: "tiny", data: ROWS, steps: 12, lr: 0.01, batch_size: 3, warmup: 2 };

Deno.test("jobs: fine-tune → 202, SSE to succeeded, artifacts listed and downloaded, same weights as the library", async () => {
  const t = await testApp({ chunkSteps: 5 });
  try {
    const res = await post(t.app, "/v1/jobs", FT);
    assert.equal(res.status, 202);
    const job = await res.json();
    assert.match(job.id, /^job_/);
    assert.equal(job.status, "queued");
    assert.equal(res.headers.get("location"), `/v1/jobs/${job.id}`);
    const sse = await t.app.request(`/v1/jobs/${job.id}/events`);
    assert.equal(sse.headers.get("content-type"), "text/event-stream");
    const events = await readSse(sse);
    const last = events.at(-1)!;
    assert.equal(last.event, "succeeded");
    assert.ok(events.slice(0, -1).every((e) => e.event === "progress"));
    assert.ok(events.some((e) => (e.data.progress as { step: number }).step > 0));
    const done = last.data as {
      progress: { step: number; checkpoint_step: number };
      result: Record<string, number>;
      state?: unknown;
    };
    assert.equal(done.progress.step, 12);
    assert.equal(done.progress.checkpoint_step, 10); // chunks of 5: checkpoints after 5 and 10
    for (
      const k of ["loss_start", "loss_end", "steps", "tokens_per_s", "peak_rss_mb", "optimizer_state_bytes"]
    ) {
      assert.equal(typeof done.result[k], "number", k);
    }
    assert.ok(done.result.loss_end < done.result.loss_start);
    assert.equal(done.state, undefined);
    const list = (await (await t.app.request(`/v1/jobs/${job.id}/artifacts`)).json()).data;
    const names = list.map((a: { name: string }) => a.name);
    for (const f of ["config.json", "model.safetensors", "tokenizer.json"]) {
      assert.ok(names.includes(f), names.join());
    }
    for (const a of list) {
      const dl = await t.app.request(`/v1/jobs/${job.id}/artifacts/${a.name}`);
      assert.equal(dl.status, 200);
      const bytes = new Uint8Array(await dl.arrayBuffer());
      assert.equal(bytes.length, a.size);
      assert.equal(await sha256(bytes), a.sha256);
      assert.equal(dl.headers.get("etag"), `"${a.sha256}"`);
    }
    // no checkpoints left behind once the runner is done with the job
    await t.runner.idle();
    const jobDir = join(t.dir, "data", "jobs", job.id);
    const left = [];
    for await (const e of Deno.readDir(jobDir)) left.push(e.name);
    assert.deepEqual(left.sort(), ["out", "request.json"]);
    // the library with the same options lands on the same weights (chunks + checkpoints change nothing)
    const out = join(t.dir, "lib");
    await finetune({
      model: join(t.dir, "models", "tiny"),
      data: ROWS,
      out,
      steps: 12,
      lr: 0.01,
      batchSize: 3,
      warmup: 2,
      backend: "node",
    });
    const a = await readSafetensors(join(out, "model.safetensors"));
    const b = await readSafetensors(join(jobDir, "out", "model.safetensors"));
    for (const [k, ta] of a.tensors) {
      const x = toFloat32(ta), y = toFloat32(b.tensors.get(k)!);
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) assert.fail(`${k}[${i}]: ${x[i]} ≠ ${y[i]}`);
    }
    // eval job on the base and with the fine-tune as adapter; the latter matches library evaluate
    const base = await post(t.app, "/v1/jobs", { type: "eval", model: "tiny", data: ROWS, batch_size: 2 });
    const tuned = await post(t.app, "/v1/jobs", {
      type: "eval",
      model: "tiny",
      adapter: job.id,
      data: ROWS,
      batch_size: 2,
    });
    const [eb, et] = [
      await waitJob(t.app, (await base.json()).id),
      await waitJob(t.app, (await tuned.json()).id),
    ];
    const rb = eb.result as Record<string, number>, rt = et.result as Record<string, number>;
    assert.ok(rt.loss < rb.loss, `${rt.loss} < ${rb.loss}`);
    assert.equal(rb.tokens, rt.tokens);
    const lib = await evaluate({ model: join(jobDir, "out"), data: ROWS, batchSize: 2, backend: "node" });
    assert.ok(Math.abs(lib.loss - rt.loss) < 1e-6, `${lib.loss} vs ${rt.loss}`);
    assert.deepEqual(et.progress, { step: 2, steps: 2, loss: rt.loss });
    // generate with the job's weights
    const g = await post(t.app, "/v1/generate", {
      model: "tiny",
      adapter: job.id,
      prompt: "the hello",
      max_new_tokens: 4,
    });
    assert.equal(g.status, 200);
    assert.equal(typeof (await g.json()).text, "string");
    const listed = (await (await t.app.request("/v1/jobs")).json()).data;
    assert.equal(listed.length, 3);
    assert.equal(listed.at(-1).id, job.id); // newest first
    assert.equal((await (await t.app.request("/v1/jobs?status=succeeded&limit=1")).json()).data.length, 1);
  } finally {
    await t.close();
  }
});

Deno.test("jobs: lora fine-tune writes a PEFT adapter; generate and eval merge it", async () => {
  const t = await testApp();
  try {
    const res = await post(t.app, "/v1/jobs", {
      ...FT,
      method: "lora",
      rank: 4,
      lora_alpha: 8,
      targets: ["q_proj", "v_proj"],
      lr: 0.02,
    });
    const job = await waitJob(t.app, (await res.json()).id);
    assert.equal(job.status, "succeeded", JSON.stringify(job.error));
    const names = (job.artifacts as { name: string }[]).map((a) => a.name).sort();
    assert.deepEqual(names, ["adapter_config.json", "adapter_model.safetensors"]);
    const conf = await (await t.app.request(`/v1/jobs/${job.id}/artifacts/adapter_config.json`)).json();
    assert.deepEqual([conf.peft_type, conf.r, conf.lora_alpha, conf.base_model_name_or_path], [
      "LORA",
      4,
      8,
      "tiny",
    ]);
    const g = await post(t.app, "/v1/generate", {
      model: "tiny",
      adapter: job.id,
      prompt: "hello",
      max_new_tokens: 3,
    });
    assert.equal(g.status, 200, await g.clone().text());
    const ev = await post(t.app, "/v1/jobs", { type: "eval", model: "tiny", adapter: job.id, data: ROWS });
    assert.equal((await waitJob(t.app, (await ev.json()).id)).status, "succeeded");
    // an adapter must be a succeeded fine-tune of the same model
    const bad = await post(t.app, "/v1/generate", { model: "tiny", adapter: "job_nope", prompt: "x" });
    assert.equal(bad.status, 404);
    assert.equal((await bad.json()).error.path, "adapter");
    const evId = (await (await t.app.request("/v1/jobs?limit=1")).json()).data[0].id;
    const notFt = await post(t.app, "/v1/generate", { model: "tiny", adapter: evId, prompt: "x" });
    assert.equal(notFt.status, 422);
    const long = await post(t.app, "/v1/generate", { model: "tiny", prompt: "hello", max_new_tokens: 4000 });
    assert.equal(long.status, 422);
    assert.equal((await long.json()).error.path, "max_new_tokens");
  } finally {
    await t.close();
  }
});

Deno.test("jobs: cancel stops a running job within a chunk, a queued one at once; no artifacts; 404; DELETE removes a finished job", async () => {
  const t = await testApp({ chunkSteps: 1000, concurrency: 1 });
  try {
    const long = await (await post(t.app, "/v1/jobs", { ...FT, steps: 100_000 })).json();
    const queued = await (await post(t.app, "/v1/jobs", FT)).json();
    for (let i = 0; i < 400; i++) {
      const j = await (await t.app.request(`/v1/jobs/${long.id}`)).json();
      if (j.progress.step >= 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const q = await t.app.request(`/v1/jobs/${queued.id}`, { method: "DELETE" });
    assert.equal(q.status, 200);
    assert.equal((await q.json()).status, "canceled");
    const t0 = Date.now();
    const c = await t.app.request(`/v1/jobs/${long.id}`, { method: "DELETE" });
    const canceled = await c.json();
    assert.equal(c.status, 200);
    assert.equal(canceled.status, "canceled");
    assert.ok(Date.now() - t0 < 10_000);
    assert.ok(canceled.progress.step < 100_000);
    assert.deepEqual((await (await t.app.request(`/v1/jobs/${long.id}/artifacts`)).json()).data, []);
    assert.equal((await t.app.request(`/v1/jobs/${long.id}/artifacts/model.safetensors`)).status, 404);
    const dir = join(t.dir, "data", "jobs", long.id);
    const left = [];
    for await (const e of Deno.readDir(dir)) left.push(e.name);
    assert.deepEqual(left, ["request.json"]);
    // a second DELETE on the canceled job removes it, record and files
    const removed = await t.app.request(`/v1/jobs/${long.id}`, { method: "DELETE" });
    assert.equal(removed.status, 200);
    assert.equal((await removed.json()).status, "canceled");
    assert.equal((await t.app.request(`/v1/jobs/${long.id}`)).status, 404);
    await assert.rejects(Deno.stat(dir));
    assert.equal((await t.app.request("/v1/jobs/job_nope", { method: "DELETE" })).status, 404);
    assert.equal((await t.app.request("/v1/jobs/job_nope")).status, 404);
    assert.equal((await t.app.request("/v1/jobs/job_nope/events")).status, 404);
    assert.equal((await t.app.request("/v1/jobs/job_nope/artifacts")).status, 404);
    assert.equal((await t.app.request("/v1/jobs/" + "x".repeat(3000))).status, 404);
    const ok = await (await post(t.app, "/v1/jobs", { ...FT, steps: 1 })).json();
    await waitJob(t.app, ok.id);
    assert.equal((await t.app.request(`/v1/jobs/${ok.id}/artifacts/..%2Frequest.json`)).status, 404);
    // DELETE on a succeeded job removes it with its artifacts
    const gone = await t.app.request(`/v1/jobs/${ok.id}`, { method: "DELETE" });
    assert.equal(gone.status, 200);
    assert.equal((await gone.json()).status, "succeeded");
    assert.equal((await t.app.request(`/v1/jobs/${ok.id}/artifacts`)).status, 404);
    await assert.rejects(Deno.stat(join(t.dir, "data", "jobs", ok.id)));
    assert.equal((await t.app.request(`/v1/jobs/${ok.id}`, { method: "DELETE" })).status, 404);
  } finally {
    await t.close();
  }
});

Deno.test("jobs: a job a queued one reads as its adapter is kept (409 job_in_use, retention too) until that one ends", async () => {
  const t = await testApp({ chunkSteps: 1000, concurrency: 1 });
  try {
    const ft = await waitJob(
      t.app,
      (await (await post(t.app, "/v1/jobs", { ...FT, steps: 2, method: "lora" })).json()).id,
    );
    assert.equal(ft.status, "succeeded", JSON.stringify(ft.error));
    const blocker = await (await post(t.app, "/v1/jobs", { ...FT, steps: 100_000 })).json();
    const ev =
      await (await post(t.app, "/v1/jobs", { type: "eval", model: "tiny", adapter: ft.id, data: ROWS }))
        .json();
    const del = await t.app.request(`/v1/jobs/${ft.id}`, { method: "DELETE" });
    assert.equal(del.status, 409);
    const err = (await del.json()).error;
    assert.deepEqual([err.code, err.path], ["job_in_use", "id"]);
    assert.match(err.message, new RegExp(ev.id));
    assert.deepEqual(await sweepFinished(t.runner.store, t.runner.files, Date.now() + 60_000), []);
    assert.equal((await t.app.request(`/v1/jobs/${ft.id}/artifacts`)).status, 200);
    for (const id of [blocker.id, ev.id]) await t.app.request(`/v1/jobs/${id}`, { method: "DELETE" });
    assert.equal((await t.app.request(`/v1/jobs/${ft.id}`, { method: "DELETE" })).status, 200);
    assert.equal((await t.app.request(`/v1/jobs/${ft.id}`)).status, 404);
  } finally {
    await t.close();
  }
});

Deno.test("jobs: a NaN loss fails the job naming the step; nothing is written", async () => {
  const t = await testApp();
  try {
    const dir = join(t.dir, "models", "nan");
    const cfg = { ...tinyLlama(), vocabSize: 270, hidden: 32, ffn: 64 };
    const w = await writeModel(dir, cfg);
    w.get("model.norm.weight")![0] = NaN;
    const specs = paramSpecs(cfg);
    await saveModelDir(
      dir,
      toHfConfig(cfg),
      Object.fromEntries(
        specs.map((s) => [s.name, { dtype: "F32" as const, shape: s.shape, data: w.get(s.name)! }]),
      ),
    );
    await t.close();
    const n = await testApp({ models: new Map([["nan", dir]]) });
    try {
      const res = await post(n.app, "/v1/jobs", {
        type: "finetune",
        model: "nan",
        data: [{ input_ids: [1, 2, 3, 4] }],
        steps: 5,
      });
      const j = await waitJob(n.app, (await res.json()).id);
      assert.equal(j.status, "failed");
      const err = j.error as { code: string; message: string; step: number };
      assert.equal(err.code, "non_finite_loss");
      assert.equal(err.step, 1);
      assert.match(err.message, /step 1: loss is NaN/);
      assert.equal(j.artifacts, undefined);
      await assert.rejects(Deno.stat(join(n.dir, "data", "jobs", j.id as string, "out")));
      const events = await readSse(await n.app.request(`/v1/jobs/${j.id}/events`));
      assert.deepEqual(events.map((e) => e.event), ["failed"]);
    } finally {
      await n.close();
    }
  } finally {
    await t.close();
  }
});
