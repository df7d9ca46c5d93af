/** The runner's progress writes: coalesced, one at a time, and never one left unwritten after a flush. */
import assert from "node:assert/strict";
import { claimJob } from "../../src/jobs/lease.ts";
import { MemoryJobStore } from "../../src/jobs/memory_store.ts";
import { type JobRecord, newJobId } from "../../src/jobs/store.ts";
import { progressWriter } from "../../src/jobs/record_writes.ts";

function record(): JobRecord {
  const t = new Date().toISOString();
  return {
    id: newJobId(),
    type: "coreset",
    status: "queued",
    model: "tiny",
    created_at: t,
    updated_at: t,
    progress: { step: 0, steps: 2 },
    version: 0,
  };
}

Deno.test("progress writer: a push landing at any microtask after a write ends is written by flush", async () => {
  const store = new MemoryJobStore();
  // the window that lost a push: the last write done, its drain not yet marked finished (CI saw the
  // final step of a coreset job missing from its record); try the push at each microtask after it
  for (let delay = 0; delay < 12; delay++) {
    const j = record();
    await store.create(j);
    await claimJob(store, j.id, { holder: "a", leaseMs: 60_000 });
    const w = progressWriter(store, j.id, { holder: "a", ms: 60_000 }, () => {});
    w.push({ step: 1 });
    // wait until the first write is in the store, then step `delay` microtasks on
    while ((await store.get(j.id))?.progress.step !== 1) await Promise.resolve();
    for (let i = 0; i < delay; i++) await Promise.resolve();
    w.push({ step: 2 });
    await w.flush();
    assert.equal((await store.get(j.id))?.progress.step, 2, `push ${delay} microtasks after a write`);
  }
});

Deno.test("progress writer: pushes made while a write is under way are merged into one more write", async () => {
  const store = new MemoryJobStore();
  const j = record();
  await store.create(j);
  await claimJob(store, j.id, { holder: "a", leaseMs: 60_000 });
  let writes = 0;
  const w = progressWriter(store, j.id, { holder: "a", ms: 60_000 }, () => writes++);
  w.push({ step: 1 });
  w.push({ loss: 3 });
  w.push({ step: 2 });
  await w.flush();
  assert.equal(writes, 2, "the first push's write, then one for the two merged behind it");
  const rec = await store.get(j.id);
  assert.equal(rec?.progress.step, 2);
  assert.equal(rec?.progress.loss, 3);
});
