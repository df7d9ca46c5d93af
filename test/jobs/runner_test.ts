/** The job runner: resume after a stop (KV store), edge-style chunk-per-invocation, queue and concurrency. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { JobRunner } from "../../src/jobs/runner.ts";
import { ArtifactStore } from "../../src/jobs/artifacts.ts";
import { ModelRegistry } from "../../src/jobs/models.ts";
import { KvJobStore } from "../../src/jobs/kv_store.ts";
import { MemoryJobStore } from "../../src/jobs/memory_store.ts";
import type { JobStore } from "../../src/jobs/store.ts";
import { JobRequestSchema } from "../../src/jobs/spec.ts";
import { evaluate, finetune } from "../../src/api.ts";
import { readSafetensors, toFloat32 } from "../../src/io/safetensors.ts";
import { ROWS, tinyModelDir } from "../routes/_app.ts";

const OPTS = { steps: 9, lr: 0.01, batch_size: 2, warmup: 1, backend: "node" };
const request = (extra: Record<string, unknown> = {}) =>
  JobRequestSchema.parse({ type: "finetune", model: "tiny", data: ROWS, ...OPTS, ...extra });

async function setup() {
  const dir = await Deno.makeTempDir();
  const tiny = await tinyModelDir(join(dir, "tiny"));
  const models = new ModelRegistry({ models: new Map([["tiny", tiny]]) });
  const files = new ArtifactStore(join(dir, "data"));
  const ref = join(dir, "ref");
  const make = (store: JobStore, chunkSteps = 3, concurrency = 1, instance?: string) =>
    new JobRunner({ store, files, models, chunkSteps, concurrency, instance });
  return { dir, tiny, models, files, ref, make };
}

async function reference(tiny: string, out: string) {
  await finetune({
    model: tiny,
    data: ROWS,
    out,
    steps: 9,
    lr: 0.01,
    batchSize: 2,
    warmup: 1,
    backend: "node",
  });
}

async function assertSameWeights(a: string, b: string) {
  const x = await readSafetensors(join(a, "model.safetensors")),
    y = await readSafetensors(join(b, "model.safetensors"));
  assert.equal(x.tensors.size, y.tensors.size);
  for (const [k, t] of x.tensors) {
    const p = toFloat32(t), q = toFloat32(y.tensors.get(k)!);
    for (let i = 0; i < p.length; i++) if (p[i] !== q[i]) assert.fail(`${k}[${i}]: ${p[i]} ≠ ${q[i]}`);
  }
}

Deno.test("runner: a job stopped mid-run resumes from its checkpoint in a new runner (KV store) and ends where one run ends", async () => {
  const s = await setup();
  const kvPath = join(s.dir, "jobs.kv");
  const store1 = await KvJobStore.open(kvPath);
  const r1 = s.make(store1);
  await r1.start();
  const job = await r1.submit(request());
  for (let i = 0; i < 400 && !((await store1.get(job.id))!.progress.checkpoint_step! >= 3); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await r1.stop();
  const mid = (await store1.get(job.id))!;
  assert.equal(mid.status, "running");
  assert.ok(
    mid.progress.checkpoint_step! >= 3 && mid.progress.checkpoint_step! < 9,
    JSON.stringify(mid.progress),
  );
  store1.close();
  const store2 = await KvJobStore.open(kvPath);
  const r2 = s.make(store2);
  await r2.start();
  await r2.idle();
  const done = (await store2.get(job.id))!;
  assert.equal(done.status, "succeeded", JSON.stringify(done.error));
  assert.equal(done.resumes, 1);
  assert.equal(done.result!.steps, 9);
  await reference(s.tiny, s.ref);
  await assertSameWeights(s.ref, s.files.outDir(job.id));
  await r2.stop();
  store2.close();
});

Deno.test("runner: edge mode — one chunk per invocation, each in a fresh runner that reloads the checkpoint", async () => {
  const s = await setup();
  const store = new MemoryJobStore();
  const job = await s.make(store).submit(request());
  let calls = 0;
  const step = async (id = job.id, chunk = 3) => {
    // a fresh isolate (nothing warm, the checkpoint is reloaded) of the one holder (a Durable Object)
    const r = s.make(store, chunk, 1, "edge");
    try {
      return await r.advance(id);
    } finally {
      await r.release();
    }
  };
  while (await step()) calls++;
  assert.equal(calls + 1, 3); // 9 steps in chunks of 3
  const done = (await store.get(job.id))!;
  assert.equal(done.status, "succeeded");
  await reference(s.tiny, s.ref);
  await assertSameWeights(s.ref, s.files.outDir(job.id));
  // eval, chunked by batches the same way, matches the library
  const ev = await s.make(store, 1).submit(
    JobRequestSchema.parse({ type: "eval", model: "tiny", data: ROWS, batch_size: 1, backend: "node" }),
  );
  while (await step(ev.id, 1));
  const r = (await store.get(ev.id))!.result!;
  const lib = await evaluate({ model: s.tiny, data: ROWS, batchSize: 1, backend: "node" });
  assert.ok(Math.abs(r.loss - lib.loss) < 1e-9 && r.tokens === lib.tokens, `${r.loss} vs ${lib.loss}`);
  store.close();
});

Deno.test("runner: concurrency limit queues jobs FIFO; a second slot runs two at once", async () => {
  for (const concurrency of [1, 2]) {
    const s = await setup();
    const store = new MemoryJobStore();
    const r = s.make(store, 1, concurrency);
    await r.start();
    const a = await r.submit(request({ steps: 6 }));
    const b = await r.submit(request({ steps: 2 }));
    let both = false, order: string[] = [];
    const watch = (async () => {
      for (let i = 0; i < 2000; i++) {
        const [ja, jb] = [(await store.get(a.id))!, (await store.get(b.id))!];
        if (ja.status === "running" && jb.status === "running") both = true;
        for (const j of [ja, jb]) if (j.status === "succeeded" && !order.includes(j.id)) order.push(j.id);
        if (order.length === 2) return;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await r.idle();
    await watch;
    order = order.map((id) => (id === a.id ? "a" : "b"));
    if (concurrency === 1) {
      assert.equal(both, false, "never two running at once");
      assert.deepEqual(order, ["a", "b"]);
    } else assert.equal(both, true, "two running at once");
    await r.stop();
    store.close();
  }
});
