/**
 * Job leases (issue 18): one holder at a time by compare-and-set, takeover after expiry or when the
 * holder is gone, no write from a holder that lost its lease, and a runner whose job is taken stops
 * while the taker finishes it exactly where one uninterrupted run ends.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { claimJob, releaseJob, writeHeld } from "../../src/jobs/lease.ts";
import { MemoryJobStore } from "../../src/jobs/memory_store.ts";
import { KvJobStore } from "../../src/jobs/kv_store.ts";
import { type JobRecord, type JobStore, newJobId } from "../../src/jobs/store.ts";
import { JobRunner } from "../../src/jobs/runner.ts";
import { ArtifactStore } from "../../src/jobs/artifacts.ts";
import { ModelRegistry } from "../../src/jobs/models.ts";
import { JobRequestSchema } from "../../src/jobs/spec.ts";
import { finetune } from "../../src/api.ts";
import { ROWS, tinyModelDir } from "../routes/_app.ts";

function record(status: JobRecord["status"] = "queued"): JobRecord {
  const t = new Date().toISOString();
  return {
    id: newJobId(),
    type: "finetune",
    status,
    model: "tiny",
    created_at: t,
    updated_at: t,
    progress: { step: 5, steps: 10, checkpoint_step: 4 },
    version: 0,
  };
}

for (
  const [name, open] of [
    ["memory", () => Promise.resolve(new MemoryJobStore())],
    ["kv", async () => await KvJobStore.open(join(await Deno.makeTempDir(), "jobs.kv"))],
  ] as [string, () => Promise<JobStore>][]
) {
  Deno.test(`lease (${name}): one holder at a time; taken over after expiry or when gone; the loser writes nothing`, async () => {
    const store = await open();
    try {
      const j = record();
      await store.create(j);
      const a = await claimJob(store, j.id, { holder: "a", leaseMs: 60_000 });
      assert.equal(a?.status, "running");
      assert.equal(a?.lease?.holder, "a");
      assert.equal(await claimJob(store, j.id, { holder: "b", leaseMs: 60_000 }), undefined, "a holds it");
      // both racing for a queued job: exactly one wins
      const k = record();
      await store.create(k);
      const race = await Promise.all(
        ["x", "y", "z"].map((h) => claimJob(store, k.id, { holder: h, leaseMs: 60_000 })),
      );
      assert.equal(race.filter(Boolean).length, 1);
      // a gone holder's job is taken before its lease expires, counting a resume from the checkpoint
      const b = await claimJob(store, j.id, {
        holder: "b",
        leaseMs: 60_000,
        gone: (h) => Promise.resolve(h === "a"),
      });
      assert.equal(b?.lease?.holder, "b");
      assert.equal(b?.resumes, 1);
      assert.equal(b?.progress.step, 4, "progress past the checkpoint is redone");
      const lost = await writeHeld(store, j.id, "a", 60_000, (r) => ({ ...r, result: { loss: 1 } }));
      assert.equal(lost.ok, false);
      assert.equal((await store.get(j.id))!.result, undefined, "a holder that lost its lease writes nothing");
      // an expired lease is taken by anyone
      await store.update(j.id, (r) => ({ ...r, lease: { holder: "b", expires: Date.now() - 1 } }));
      const c = await claimJob(store, j.id, { holder: "c", leaseMs: 60_000 });
      assert.equal(c?.lease?.holder, "c");
      assert.equal(c?.resumes, 2);
      // the result is written once: after the end nobody claims or writes
      const done = await writeHeld(store, j.id, "c", 60_000, (r) => ({ ...r, status: "succeeded" }));
      assert.equal(done.ok, true);
      assert.equal((await writeHeld(store, j.id, "c", 60_000, (r) => r)).ok, false);
      assert.equal(await claimJob(store, j.id, { holder: "d", leaseMs: 1 }), undefined);
      // a released job is taken at once
      const m = record();
      await store.create(m);
      await claimJob(store, m.id, { holder: "a", leaseMs: 60_000 });
      await releaseJob(store, m.id, "a");
      assert.equal((await claimJob(store, m.id, { holder: "b", leaseMs: 60_000 }))?.lease?.holder, "b");
    } finally {
      store.close();
    }
  });
}

Deno.test("lease: a runner whose job is taken stops writing; the taker resumes from the checkpoint and ends where one run ends", async () => {
  const dir = await Deno.makeTempDir();
  const tiny = await tinyModelDir(join(dir, "tiny"));
  const models = new ModelRegistry({ models: new Map([["tiny", tiny]]) });
  const files = new ArtifactStore(join(dir, "data"));
  const store = new MemoryJobStore();
  const OPTS = { steps: 12, lr: 0.01, batch_size: 2, warmup: 1, backend: "node" };
  const make = (instance: string) =>
    new JobRunner({ store, files, models, chunkSteps: 2, instance, leaseMs: 60_000, pollMs: 50 });
  const a = make("a");
  await a.start();
  const job = await a.submit(
    JobRequestSchema.parse({ type: "finetune", model: "tiny", data: ROWS, ...OPTS }),
  );
  for (let i = 0; i < 2000 && !((await store.get(job.id))!.progress.checkpoint_step! >= 4); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  // "b" takes the job over as if a's lease had expired (a stalled): a must notice at its next write and stop
  await store.update(job.id, (r) => ({ ...r, lease: { holder: "gone", expires: 0 } }));
  const b = make("b");
  await b.start();
  await a.idle();
  await b.idle();
  const done = (await store.get(job.id))!;
  assert.equal(done.status, "succeeded", JSON.stringify(done.error));
  assert.equal(done.lease?.holder, "b");
  assert.equal(done.resumes, 1);
  assert.equal(done.result!.steps, 12);
  const ref = join(dir, "ref");
  await finetune({
    model: tiny,
    data: ROWS,
    out: ref,
    steps: 12,
    lr: 0.01,
    batchSize: 2,
    warmup: 1,
    backend: "node",
  });
  const want = await Deno.readFile(join(ref, "model.safetensors"));
  const got = await Deno.readFile(join(files.outDir(job.id), "model.safetensors"));
  assert.ok(want.length === got.length && want.every((x, i) => x === got[i]), "weights differ from one run");
  await a.stop();
  await b.stop();
  store.close();
});

Deno.test("lease: a cancel asked on another instance stops the job where it runs", async () => {
  const dir = await Deno.makeTempDir();
  const tiny = await tinyModelDir(join(dir, "tiny"));
  const models = new ModelRegistry({ models: new Map([["tiny", tiny]]) });
  const files = new ArtifactStore(join(dir, "data"));
  const store = new MemoryJobStore();
  const make = (instance: string) =>
    new JobRunner({ store, files, models, chunkSteps: 1000, instance, leaseMs: 300 });
  const a = make("a"), b = make("b");
  await a.start();
  const job = await a.submit(
    JobRequestSchema.parse({ type: "finetune", model: "tiny", data: ROWS, steps: 100_000, backend: "node" }),
  );
  for (let i = 0; i < 2000 && (await store.get(job.id))!.progress.step < 2; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const t0 = Date.now();
  const rec = await b.cancel(job.id); // b does not run it: it asks, and waits for a to stop
  assert.equal(rec?.status, "canceled");
  assert.equal(rec?.lease?.holder, "a", "the holder wrote the end");
  assert.ok(Date.now() - t0 < 10_000);
  assert.ok(rec!.progress.step < 100_000);
  await a.stop();
  await b.stop();
  store.close();
});

Deno.test("lease: a KV watch sees the writes made through another handle on the same file", async () => {
  const path = join(await Deno.makeTempDir(), "jobs.kv");
  const one = await KvJobStore.open(path), two = await KvJobStore.open(path);
  try {
    const j = record();
    await one.create(j);
    const ac = new AbortController();
    const seen: number[] = [];
    const watching = (async () => {
      for await (const r of one.watch(j.id, ac.signal)) {
        seen.push(r.version);
        if (r.status === "succeeded") break;
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    await two.update(j.id, (r) => ({ ...r, status: "succeeded" }));
    const timer = setTimeout(() => ac.abort(), 5_000);
    await watching;
    clearTimeout(timer);
    assert.deepEqual([seen[0], seen.at(-1)], [0, 1]);
  } finally {
    one.close();
    two.close();
  }
});

Deno.test("lease: the KV store finds work through its active index, also in a file written before the index", async () => {
  const path = join(await Deno.makeTempDir(), "jobs.kv");
  const old = record("running");
  const raw = await Deno.openKv(path);
  await raw.set(["posttrain", "jobs", old.id], old); // as an older version wrote it: no index entry
  raw.close();
  const store = await KvJobStore.open(path);
  try {
    const q = record();
    await store.create(q);
    assert.deepEqual(
      (await store.list({ status: ["running", "queued"] })).map((j) => j.id).sort(),
      [old.id, q.id].sort(),
    );
    await store.update(q.id, (j) => ({ ...j, status: "succeeded" }));
    assert.deepEqual((await store.list({ status: ["running", "queued"] })).map((j) => j.id), [old.id]);
    assert.equal(
      (await store.kv.get(["posttrain", "active", q.id])).value,
      null,
      "an ended job leaves the index",
    );
    assert.equal((await store.list()).length, 2);
  } finally {
    store.close();
  }
});

Deno.test("lease: a runner that stops lets its job go at once; a polling runner continues it from the checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const tiny = await tinyModelDir(join(dir, "tiny"));
  const models = new ModelRegistry({ models: new Map([["tiny", tiny]]) });
  const files = new ArtifactStore(join(dir, "data"));
  const store = new MemoryJobStore();
  const make = (instance: string) =>
    new JobRunner({ store, files, models, chunkSteps: 2, instance, leaseMs: 60_000, pollMs: 20 });
  const a = make("a"), b = make("b");
  await a.start();
  await b.start(); // b idles, polling the store
  const job = await a.submit(
    JobRequestSchema.parse({ type: "finetune", model: "tiny", data: ROWS, steps: 10, backend: "node" }),
  );
  for (let i = 0; i < 2000; i++) {
    const j = (await store.get(job.id))!;
    if (j.lease?.holder === "a" && (j.progress.checkpoint_step ?? 0) >= 2) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  await a.stop(); // a shutdown: checkpoint, release the lease (not waiting 60 s for it to expire)
  for (let i = 0; i < 2000 && (await store.get(job.id))!.status !== "succeeded"; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  await b.idle();
  const done = (await store.get(job.id))!;
  assert.equal(done.status, "succeeded");
  assert.equal(done.lease?.holder, "b");
  assert.equal(done.resumes, 1);
  assert.equal(done.result!.steps, 10);
  await b.stop();
  store.close();
});
