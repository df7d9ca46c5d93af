/** One-chunk jobs across a restart: a coreset job stopped mid-run starts over in a new runner (KV store) and succeeds. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { JobRunner } from "../../src/jobs/runner.ts";
import { ArtifactStore } from "../../src/jobs/artifacts.ts";
import { ModelRegistry } from "../../src/jobs/models.ts";
import { KvJobStore } from "../../src/jobs/kv_store.ts";
import { ROWS, tinyModelDir } from "../routes/_app.ts";

Deno.test("runner: a coreset job stopped by a shutdown stays running, then a new runner runs it from the start", async () => {
  const dir = await Deno.makeTempDir();
  const models = new ModelRegistry({ models: new Map([["tiny", await tinyModelDir(join(dir, "tiny"))]]) });
  const files = new ArtifactStore(join(dir, "data"));
  const kvPath = join(dir, "jobs.kv");
  const make = (store: KvJobStore) => new JobRunner({ store, files, models, defaultBackend: "node" });
  const store1 = await KvJobStore.open(kvPath);
  const r1 = make(store1);
  await r1.start();
  const body = { type: "coreset", model: "tiny", method: "cld", data: ROWS, val: ROWS, k: 2 };
  const job = await r1.submit({ ...body, epochs: 60, evals_per_epoch: 5 });
  for (let i = 0; i < 400 && (await store1.get(job.id))!.progress.step < 3; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await r1.stop();
  const mid = (await store1.get(job.id))!;
  assert.equal(mid.status, "running");
  assert.ok(mid.progress.step >= 3 && mid.progress.step < 300, JSON.stringify(mid.progress));
  await assert.rejects(Deno.stat(files.outDir(job.id)));
  store1.close();
  const store2 = await KvJobStore.open(kvPath);
  const r2 = make(store2);
  await r2.start();
  await r2.idle();
  const done = (await store2.get(job.id))!;
  assert.equal(done.status, "succeeded", JSON.stringify(done.error));
  assert.equal(done.resumes, 1);
  assert.deepEqual(done.result, { k: 2, rows: 3 });
  assert.deepEqual(done.artifacts!.map((a) => a.name), ["selection.json"]);
  await r2.stop();
  store2.close();
  models.close();
});
