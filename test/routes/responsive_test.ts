/**
 * The HTTP event loop does not do the work (issue 12.3, 12.4): job progress is visible after every
 * step while a chunk runs, and jobs and generation sharing one engine in one isolate (the inline
 * executor of edge runtimes) never corrupt each other.
 */
import assert from "node:assert/strict";
import { post, ROWS, testApp, waitJob } from "./_app.ts";

const FT = { type: "finetune", model: "tiny", data: ROWS, lr: 0.01, batch_size: 3, grad_accum: 2, warmup: 1 };

Deno.test("jobs: progress is visible after every step while one chunk runs, on the default (wasm) backend", async () => {
  const t = await testApp({ chunkSteps: 1000, defaultBackend: "wasm" });
  try {
    const job = await (await post(t.app, "/v1/jobs", { ...FT, steps: 16 })).json();
    const seen = new Set<number>();
    for (let i = 0; i < 60_000; i++) {
      const j = await (await t.app.request(`/v1/jobs/${job.id}`)).json();
      if (j.status !== "queued" && j.status !== "running") {
        assert.equal(j.status, "succeeded", JSON.stringify(j.error));
        break;
      }
      if (j.status === "running" && j.progress.step > 0) seen.add(j.progress.step);
      await new Promise((r) => setTimeout(r, 1)); // a macrotask: only runs when the loop is free
    }
    const between = [...seen].filter((s) => s < 16);
    assert.ok(between.length >= 4, `steps seen while the one chunk ran: ${[...seen].sort((a, b) => a - b)}`);
  } finally {
    await t.close();
  }
});

Deno.test("inline executor, wasm: an eval job and generate requests on one engine at once all succeed", async () => {
  const t = await testApp({ executor: "inline", defaultBackend: "wasm" });
  try {
    const rows = Array.from({ length: 12 }, (_, i) => ROWS[i % ROWS.length]);
    for (let round = 0; round < 2; round++) {
      const [job, ...gens] = await Promise.all([
        post(t.app, "/v1/jobs", { type: "eval", model: "tiny", data: rows, batch_size: 2 }),
        ...[0, 1, 2].map((i) =>
          post(t.app, "/v1/generate", { model: "tiny", prompt: `the hello ${i}`, max_new_tokens: 8 })
        ),
      ]);
      for (const g of gens) assert.equal(g.status, 200, await g.text());
      const done = await waitJob(t.app, (await job.json()).id);
      assert.equal(done.status, "succeeded", JSON.stringify(done.error));
    }
  } finally {
    await t.close();
  }
});
