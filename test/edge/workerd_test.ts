/**
 * Issue 15, evidence: the HTTP API inside Cloudflare's workerd (the npm package's binary, a bundle from
 * build:worker with a tiny model) runs a LoRA job to completion, and its adapter equals the Deno `lean`
 * run of the same request within 1e-6; workerd killed mid-job (SIGKILL) and started again on the same
 * Durable Object storage finishes the job with the same adapter.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildWorker } from "../../src/build/worker.ts";
import { startWorkerd, workerdBinary } from "../../src/build/worker_serve.ts";
import {
  assertAdapterClose,
  denoAdapter,
  freePort,
  loraRequest,
  skipUnless,
  tensorsOf,
  tinyModel,
} from "./_edge.ts";

const missing = await workerdBinary().then(
  async ({ path }) => (await Deno.stat(path).then(() => undefined, () => `no binary at ${path}`)),
  (e) => `npm:workerd does not install here (${(e as Error).message})`,
);
const ignore = skipUnless("workerd", missing);

async function submit(base: string, req: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${base}/v1/jobs`, {
    method: "POST",
    body: JSON.stringify(req),
    headers: { "content-type": "application/json" },
  });
  const body = await res.json();
  assert.equal(res.status, 202, JSON.stringify(body));
  return body.id;
}

/** A job record as the tests read it. */
type Job = { status: string; progress: { step: number; checkpoint_step?: number } };

async function poll(base: string, id: string, until: (j: Job) => boolean, ms = 300_000): Promise<Job> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const j = await (await fetch(`${base}/v1/jobs/${id}`)).json();
    if (until(j)) return j;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`job ${id}: condition not reached in ${ms} ms`);
}

const done = (j: Job) => ["succeeded", "failed", "canceled"].includes(j.status);

Deno.test({
  name:
    "workerd: a LoRA job through the HTTP API equals the Deno lean run of the same request (1e-6); killed mid-job and restarted, it finishes with the same adapter",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { root, model } = await tinyModel();
    try {
      const bundle = join(root, "bundle");
      const built = await buildWorker({ model, out: bundle, int8: "no" });
      assert.equal(built.int8, false);
      const storageDir = join(root, "do"), vars = { POSTTRAIN_CHUNK_STEPS: "2" };

      // 1. a job run to completion
      const port = freePort(), base = `http://127.0.0.1:${port}`;
      let w = await startWorkerd({ bundle, port, storageDir, vars, stdout: "null" });
      try {
        for (const p of ["/health", "/openapi.json", "/v1/models"]) {
          assert.equal((await fetch(base + p)).status, 200, p);
        }
        const id = await submit(base, loraRequest(12));
        const job = await poll(base, id, done);
        assert.equal(job.status, "succeeded", JSON.stringify(job));
        const bytes = await (await fetch(`${base}/v1/jobs/${id}/artifacts/adapter_model.safetensors`))
          .bytes();
        const want = await denoAdapter(model, loraRequest(12));
        assertAdapterClose(tensorsOf(bytes), want);

        // 2. a longer job, workerd killed after its second checkpoint, then started again
        const long = loraRequest(60);
        const id2 = await submit(base, long);
        const mid = await poll(base, id2, (j) => (j.progress?.checkpoint_step ?? 0) >= 4 || done(j));
        assert.equal(mid.status, "running", "the job ended before workerd could be killed");
        w.child.kill("SIGKILL");
        await w.child.status;
        w = await startWorkerd({ bundle, port, storageDir, vars, stdout: "null" });
        const after = await poll(base, id2, done);
        assert.equal(after.status, "succeeded", JSON.stringify(after));
        assert.ok(after.progress.step === 60);
        const bytes2 = await (await fetch(`${base}/v1/jobs/${id2}/artifacts/adapter_model.safetensors`))
          .bytes();
        assertAdapterClose(tensorsOf(bytes2), await denoAdapter(model, long));
      } finally {
        w.child.kill("SIGKILL");
        await w.child.status;
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
