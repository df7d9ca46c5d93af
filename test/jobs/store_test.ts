/** The JobStore contract, run against the in-memory and the Deno KV implementations. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MemoryJobStore } from "../../src/jobs/memory_store.ts";
import { KvJobStore } from "../../src/jobs/kv_store.ts";
import { type JobRecord, type JobStore, newJobId } from "../../src/jobs/store.ts";

function record(id = newJobId()): JobRecord {
  const t = new Date().toISOString();
  return {
    id,
    type: "finetune",
    status: "queued",
    model: "m",
    created_at: t,
    updated_at: t,
    progress: { step: 0, steps: 5 },
    version: 0,
  };
}

async function contract(store: JobStore): Promise<void> {
  const a = record(), b = record();
  await new Promise((r) => setTimeout(r, 2)); // ids are time-ordered
  const c = record();
  for (const j of [a, b, c]) await store.create(j);
  await assert.rejects(store.create(a), /exists/);
  assert.equal((await store.get(a.id))!.model, "m");
  assert.equal(await store.get("job_missing"), undefined);
  const u = await store.update(a.id, (j) => ({ ...j, status: "running" }));
  assert.equal(u!.status, "running");
  assert.equal(u!.version, 1);
  assert.equal((await store.update(a.id, () => undefined))!.version, 1); // no change
  assert.equal(await store.update("job_missing", (j) => j), undefined);
  // concurrent read-modify-writes never lose each other
  await Promise.all(
    Array.from(
      { length: 10 },
      () => store.update(b.id, (j) => ({ ...j, progress: { ...j.progress, step: j.progress.step + 1 } })),
    ),
  );
  assert.equal((await store.get(b.id))!.progress.step, 10);
  assert.deepEqual((await store.list()).map((j) => j.id), [c.id, b.id, a.id].sort().reverse());
  assert.deepEqual((await store.list({ status: ["running"] })).map((j) => j.id), [a.id]);
  assert.equal((await store.list({ limit: 2 })).length, 2);
  // watch: the current record, then each change, until aborted
  const ac = new AbortController();
  const seen: string[] = [];
  const watching = (async () => {
    for await (const j of store.watch(c.id, ac.signal)) {
      seen.push(j.status);
      if (j.status === "succeeded") ac.abort();
    }
  })();
  await new Promise((r) => setTimeout(r, 20));
  await store.update(c.id, (j) => ({ ...j, status: "running" }));
  await new Promise((r) => setTimeout(r, 20));
  await store.update(c.id, (j) => ({ ...j, status: "succeeded" }));
  await watching;
  assert.deepEqual(seen, ["queued", "running", "succeeded"]);
  // records must fit a KV value
  await assert.rejects(store.update(a.id, (j) => ({ ...j, model: "x".repeat(70_000) })), /exceeds/);
}

Deno.test("MemoryJobStore: create/get/update (CAS)/list/watch", async () => {
  const s = new MemoryJobStore();
  await contract(s);
  s.close();
});

Deno.test("KvJobStore: same contract on a SQLite file, and records survive reopening", async () => {
  const path = join(await Deno.makeTempDir(), "jobs.kv");
  const s = await KvJobStore.open(path);
  await contract(s);
  const n = (await s.list()).length;
  s.close();
  const again = await KvJobStore.open(path);
  assert.equal((await again.list()).length, n);
  again.close();
});
