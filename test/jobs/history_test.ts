/** A job's progress points: recorded by the store wrapper, thinned when long, cut back on a resume, served. */
import assert from "node:assert/strict";
import { MAX_POINTS, withHistory, withPoint } from "../../src/jobs/history.ts";
import { MemoryJobStore } from "../../src/jobs/memory_store.ts";
import type { JobRecord } from "../../src/jobs/store.ts";
import { post, ROWS, testApp, waitJob } from "../routes/_app.ts";

const job = (): JobRecord => ({
  id: "job_a",
  type: "finetune",
  status: "running",
  model: "m",
  created_at: "",
  updated_at: "",
  progress: { step: 0, steps: 1000 },
  version: 0,
});

Deno.test("history: each new step with a loss is a point; status-only writes add none; a resume drops the points past its checkpoint", async () => {
  const store = withHistory(new MemoryJobStore());
  await store.create(job());
  for (let s = 1; s <= 5; s++) {
    await store.update(
      "job_a",
      (j) => ({ ...j, progress: { ...j.progress, step: s, loss: 3 - s / 10, lr: 1e-3 } }),
    );
  }
  await store.update("job_a", (j) => ({ ...j, cancel_requested: true }));
  let h = (await store.get("job_a"))!.history!.points;
  assert.deepEqual(h.map((p) => p[0]), [1, 2, 3, 4, 5]);
  assert.deepEqual(h[1], [2, 2.8, 0.001, null, null, null]);
  await store.update("job_a", (j) => ({ ...j, progress: { ...j.progress, step: 3, loss: 2.5 } }));
  h = (await store.get("job_a"))!.history!.points;
  assert.deepEqual(h.map((p) => p[0]), [1, 2, 3]);
  assert.equal(h[2][1], 2.5);
});

Deno.test("history: a long run keeps at most MAX_POINTS points spread over all of it, the last one included", () => {
  let j = job();
  for (let s = 1; s <= 5000; s++) {
    j = withPoint(j, { ...j, progress: { ...j.progress, step: s, loss: 1 / s } });
  }
  const steps = j.history!.points.map((p) => p[0] as number);
  assert.ok(steps.length <= MAX_POINTS && steps.length > MAX_POINTS / 2, String(steps.length));
  assert.equal(steps.at(-1), 5000);
  assert.equal(steps[0], 1);
  // evenly spread: no gap wider than the stride
  const stride = j.history!.stride;
  assert.ok(steps.every((s, i) => i === 0 || s - steps[i - 1] <= stride), `${stride}: ${steps}`);
  assert.ok(new TextEncoder().encode(JSON.stringify(j)).length < 20_000);
});

Deno.test("history: GET /v1/jobs/:id/history serves a fine-tune's losses by step; the job view does not carry them", async () => {
  const t = await testApp();
  try {
    const res = await post(t.app, "/v1/jobs", {
      type: "finetune",
      model: "tiny",
      data: ROWS,
      steps: 6,
      lr: 0.01,
    });
    const { id } = await res.json();
    const done = await waitJob(t.app, id);
    assert.equal(done.history, undefined);
    const h = await (await t.app.request(`/v1/jobs/${id}/history`)).json();
    assert.deepEqual(h.columns, ["step", "loss", "lr", "grad_norm", "tokens_per_s", "forget_loss"]);
    assert.equal(h.data.at(-1)[0], 6);
    assert.ok(h.data.every((p: (number | null)[]) => typeof p[1] === "number"));
    assert.equal((await t.app.request("/v1/jobs/job_nope/history")).status, 404);
  } finally {
    await t.close();
  }
});
