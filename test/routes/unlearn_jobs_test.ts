/** Unlearn jobs over HTTP: the CLI's figures and weights, progress events, artifacts, eval on the result, cancel. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { post, readSse, sha256, testApp, waitJob } from "./_app.ts";
import { cli } from "../cli/_cli.ts";
import { readSafetensors, toFloat32 } from "../../src/io/safetensors.ts";

/** Fictitious facts to forget and rows to keep (text: the tiny byte-level tokenizer encodes anything). */
export const FORGET = [
  { question: "Where does Ilsa Marr live?", answer: " In Vell, by the grey lake." },
  { question: "What does Ilsa Marr grow?", answer: " Blue pears and thin reeds." },
];
export const RETAIN = [
  { question: "What is the capital of France?", answer: " Paris." },
  { question: "What colour is the sky?", answer: " Blue, on a clear day." },
  { text: "hello the world, hello" },
  { prompt: "the hello", completion: " world" },
];

async function sameTensors(a: string, b: string): Promise<void> {
  const x = await readSafetensors(a), y = await readSafetensors(b);
  assert.deepEqual([...x.tensors.keys()].sort(), [...y.tensors.keys()].sort());
  for (const [k, t] of x.tensors) {
    const p = toFloat32(t), q = toFloat32(y.tensors.get(k)!);
    for (let i = 0; i < p.length; i++) if (p[i] !== q[i]) assert.fail(`${k}[${i}]: ${p[i]} ≠ ${q[i]}`);
  }
}

async function download(app: Awaited<ReturnType<typeof testApp>>["app"], id: string, dir: string) {
  const list = (await (await app.request(`/v1/jobs/${id}/artifacts`)).json()).data as {
    name: string;
    size: number;
    sha256: string;
  }[];
  await Deno.mkdir(dir, { recursive: true });
  for (const a of list) {
    const bytes = new Uint8Array(
      await (await app.request(`/v1/jobs/${id}/artifacts/${a.name}`)).arrayBuffer(),
    );
    assert.equal(bytes.length, a.size);
    assert.equal(await sha256(bytes), a.sha256);
    await Deno.writeFile(join(dir, a.name), bytes);
  }
  return list.map((a) => a.name).sort();
}

Deno.test("unlearn job (graddiff): progress events with the forget loss, the CLI's figures and weights", async () => {
  const t = await testApp();
  try {
    const body = {
      type: "unlearn",
      model: "tiny",
      method: "graddiff",
      forget: FORGET,
      retain: RETAIN,
      steps: 6,
      lr: 0.01,
      batch_size: 2,
    };
    const res = await post(t.app, "/v1/jobs", body);
    assert.equal(res.status, 202, await res.clone().text());
    const job = await res.json();
    assert.deepEqual([job.type, job.method, job.progress], ["unlearn", "graddiff", { step: 0, steps: 6 }]);
    const events = await readSse(await t.app.request(`/v1/jobs/${job.id}/events`));
    assert.equal(events.at(-1)!.event, "succeeded", JSON.stringify(events.at(-1)!.data.error));
    const steps = events.map((e) => e.data.progress as { step: number; loss?: number; forget_loss?: number });
    assert.ok(steps.some((p) => p.step > 0 && typeof p.forget_loss === "number"), JSON.stringify(steps));
    const done = await waitJob(t.app, job.id);
    const r = done.result as Record<string, number>;
    assert.ok(r.forget_loss_after > r.forget_loss_before, JSON.stringify(r));
    assert.equal(r.steps, 6);
    assert.deepEqual(done.progress, {
      step: 6,
      steps: 6,
      loss: steps.at(-1)!.loss,
      forget_loss: r.forget_loss_after,
    });
    const names = await download(t.app, job.id, join(t.dir, "dl"));
    assert.deepEqual(names, ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]);
    // the CLI on the same rows and options: the same figures and the same weights
    const jsonl = (rows: unknown[]) => rows.map((x) => JSON.stringify(x)).join("\n");
    await Deno.writeTextFile(join(t.dir, "f.jsonl"), jsonl(FORGET));
    await Deno.writeTextFile(join(t.dir, "r.jsonl"), jsonl(RETAIN));
    const c = await cli([
      "unlearn",
      ...["--model", join(t.dir, "models", "tiny"), "--method", "graddiff", "--backend", "node"],
      ...[
        "--forget",
        join(t.dir, "f.jsonl"),
        "--retain",
        join(t.dir, "r.jsonl"),
        "--out",
        join(t.dir, "cli"),
      ],
      ...["--steps", "6", "--lr", "0.01", "--batch-size", "2"],
    ]);
    assert.equal(c.code, 0, c.err);
    for (const k of ["forget_loss_before", "forget_loss_after", "retain_loss_before", "retain_loss_after"]) {
      assert.equal(r[k], c.json![k], k);
    }
    await sameTensors(join(t.dir, "dl", "model.safetensors"), join(t.dir, "cli", "model.safetensors"));
  } finally {
    await t.close();
  }
});

Deno.test("unlearn job (kfade) from a fine-tune job's weights: update.safetensors; eval with it as adapter sees the forget loss", async () => {
  const t = await testApp();
  try {
    // first memorize the rows (a full fine-tune job), then unlearn from its weights (`adapter`)
    const ft = await post(t.app, "/v1/jobs", {
      type: "finetune",
      model: "tiny",
      data: [...FORGET, ...RETAIN],
      steps: 30,
      lr: 0.01,
      batch_size: 6,
    });
    const tuned = await waitJob(t.app, (await ft.json()).id);
    assert.equal(tuned.status, "succeeded", JSON.stringify(tuned.error));
    const res = await post(t.app, "/v1/jobs", {
      type: "unlearn",
      model: "tiny",
      adapter: tuned.id,
      method: "kfade",
      forget: FORGET,
      retain: RETAIN,
      kfade_steps: 2,
      fit_rows: 3,
      probe_rows: 1,
      kl_budget: 0.5,
    });
    const job = await waitJob(t.app, (await res.json()).id);
    assert.equal(job.status, "succeeded", JSON.stringify(job.error));
    const r = job.result as Record<string, number>;
    assert.ok(r.forget_loss_after > r.forget_loss_before, JSON.stringify(r));
    assert.deepEqual(job.progress, { step: 2, steps: 2, forget_loss: r.forget_loss_after });
    const names = await download(t.app, job.id as string, join(t.dir, "dl"));
    assert.ok(names.includes("update.safetensors") && names.includes("model.safetensors"), names.join());
    const u = await readSafetensors(join(t.dir, "dl", "update.safetensors"));
    assert.equal(u.metadata.method, "kfade");
    assert.ok(u.tensors.size > 0);
    const ev = await post(t.app, "/v1/jobs", { type: "eval", model: "tiny", adapter: job.id, data: FORGET });
    const e = await waitJob(t.app, (await ev.json()).id);
    assert.equal(e.status, "succeeded", JSON.stringify(e.error));
    const loss = (e.result as Record<string, number>).loss;
    assert.ok(Math.abs(loss - r.forget_loss_after) < 1e-5, `${loss} vs ${r.forget_loss_after}`);
  } finally {
    await t.close();
  }
});

Deno.test("unlearn job: ga without retain rows; a cancel discards the run and leaves no artifacts", async () => {
  const t = await testApp();
  try {
    const ga = await post(t.app, "/v1/jobs", {
      type: "unlearn",
      model: "tiny",
      method: "ga",
      forget: FORGET,
      steps: 2,
    });
    const g = await waitJob(t.app, (await ga.json()).id);
    assert.equal(g.status, "succeeded", JSON.stringify(g.error));
    assert.deepEqual(Object.keys(g.result as object).sort(), [
      "forget_loss_after",
      "forget_loss_before",
      "seconds",
      "steps",
    ]);
    // the engines take no signal: a cancel waits for the run's end, then discards it
    const long = await (await post(t.app, "/v1/jobs", {
      type: "unlearn",
      model: "tiny",
      method: "npo",
      forget: FORGET,
      retain: RETAIN,
      steps: 60,
    })).json();
    for (let i = 0; i < 400; i++) {
      const j = await (await t.app.request(`/v1/jobs/${long.id}`)).json();
      if (j.progress.step >= 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const c = await t.app.request(`/v1/jobs/${long.id}`, { method: "DELETE" });
    assert.equal(c.status, 200);
    const canceled = await c.json();
    assert.equal(canceled.status, "canceled");
    assert.deepEqual((await (await t.app.request(`/v1/jobs/${long.id}/artifacts`)).json()).data, []);
    const left = [];
    for await (const e of Deno.readDir(join(t.dir, "data", "jobs", long.id))) left.push(e.name);
    assert.deepEqual(left, ["request.json"]);
  } finally {
    await t.close();
  }
});
