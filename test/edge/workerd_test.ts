/**
 * Issue 15, evidence: the HTTP API inside Cloudflare's workerd (the npm package's binary, a bundle from
 * build:worker with a tiny model) runs a LoRA job to completion, and its adapter equals the Deno `lean`
 * run of the same request within 1e-6; workerd killed mid-job (SIGKILL) and started again on the same
 * Durable Object storage finishes the job with the same adapter. And the rest of the API answers there as
 * under `deno task start`: every fine-tune method, eval, unlearn, coreset, SSE events, artifacts, generate, cancel.
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
      // small storage values: the checkpoints span many, so their round trip is what the resumed job checks
      const storageDir = join(root, "do"), vars = { POSTTRAIN_CHUNK_STEPS: "2", POSTTRAIN_DO_VALUE_KB: "16" };

      // 1. a job run to completion
      const port = freePort(), base = `http://127.0.0.1:${port}`;
      let w = await startWorkerd({ bundle, port, storageDir, vars, stdout: "null" });
      try {
        for (
          const p of [
            "/health",
            "/openapi.json",
            "/v1/models",
            "/playground",
            "/playground/model/config.json",
          ]
        ) {
          assert.equal((await fetch(base + p)).status, 200, p);
        }
        const js = await fetch(`${base}/playground/posttrain.js`);
        assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
        assert.match(await js.text(), /finetuneInTab/);
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

Deno.test({
  name:
    "workerd: every fine-tune method, eval, unlearn and coreset jobs, SSE events, artifacts, generate and cancel answer as under deno task start",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { root, model } = await tinyModel();
    const port = freePort(), base = `http://127.0.0.1:${port}`;
    const built = await buildWorker({ model, out: join(root, "bundle"), int8: "yes" });
    assert.equal(built.int8, true);
    const w = await startWorkerd({
      bundle: built.out,
      port,
      storageDir: join(root, "do"),
      vars: { POSTTRAIN_CHUNK_STEPS: "2" },
      stdout: "null",
    });
    try {
      const rows = loraRequest(1).data as Record<string, unknown>[];
      const ids: Record<string, string> = {};
      for (const method of ["full", "galore", "qgalore", "dct"]) {
        ids[method] = await submit(base, { ...loraRequest(3), method, update_gap: 2 });
      }
      ids.eval = await submit(base, { type: "eval", model: "default", data: rows, batch_size: 2 });
      ids.unlearn = await submit(base, {
        type: "unlearn",
        model: "default",
        method: "npo",
        forget: rows.slice(0, 2),
        retain: rows.slice(2),
        steps: 2,
      });
      ids.coreset = await submit(base, {
        type: "coreset",
        model: "default",
        method: "cld",
        data: rows,
        val: rows.slice(0, 1),
        k: 2,
      });
      for (const [what, id] of Object.entries(ids)) {
        const j = await poll(base, id, done) as Job & { result: Record<string, number> };
        assert.equal(j.status, "succeeded", `${what}: ${JSON.stringify(j)}`);
        if (what === "eval") assert.ok(j.result.loss > 0 && j.result.tokens > 0);
        else if (what === "unlearn") assert.ok(j.result.forget_loss_after > j.result.forget_loss_before);
        else if (what === "coreset") assert.equal(j.result.k, 2);
        else assert.ok(Number.isFinite(j.result.loss_end), what);
      }
      // a full fine-tune's artifacts: an HF model dir, downloadable with the listed sha256
      const list = (await (await fetch(`${base}/v1/jobs/${ids.full}/artifacts`)).json()).data as {
        name: string;
        sha256: string;
      }[];
      assert.deepEqual(list.map((a) => a.name).sort(), [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
      ]);
      const cfg = await fetch(`${base}/v1/jobs/${ids.full}/artifacts/config.json`);
      assert.equal(cfg.headers.get("etag"), `"${list.find((a) => a.name === "config.json")!.sha256}"`);
      assert.equal((await cfg.json()).model_type, "llama");
      // SSE of a finished job: the events end with the terminal one
      const ev = await (await fetch(`${base}/v1/jobs/${ids.dct}/events`)).text();
      assert.match(ev, /event: succeeded/);
      // generate with the LoRA-free base and with a fine-tuned model as adapter
      for (const adapter of [undefined, ids.full]) {
        const g = await fetch(`${base}/v1/generate`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            model: "default",
            prompt: "the hello",
            max_new_tokens: 4,
            ...(adapter ? { adapter } : {}),
          }),
        });
        assert.equal(g.status, 200);
        assert.equal(typeof (await g.json()).text, "string");
      }
      // cancel a long job; errors are JSON naming the field
      const long = await submit(base, loraRequest(100_000));
      const del = await fetch(`${base}/v1/jobs/${long}`, { method: "DELETE" });
      assert.ok(del.status < 300, String(del.status));
      assert.equal((await poll(base, long, done)).status, "canceled");
      const bad = await fetch(`${base}/v1/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...loraRequest(2), steps: -1 }),
      });
      assert.equal(bad.status, 422);
      assert.equal((await bad.json()).error.path, "steps");
    } finally {
      w.child.kill("SIGKILL");
      await w.child.status;
      await Deno.remove(root, { recursive: true });
    }
  },
});
