/**
 * End to end, against the real server on a free port with the built-in model: submit a full
 * fine-tune job, follow its SSE stream to completion, download every artifact (checking its
 * sha256), evaluate and generate with the download, and generate through the API with the job.
 * Skips (with a message) when models/default has not been built.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { followSse, hasDefaultModel, startServer } from "./_server.ts";
import { sha256 } from "./_app.ts";
import { evaluate, generate } from "../../src/api.ts";

const present = await hasDefaultModel();
if (!present) console.warn("e2e: models/default is missing (deno task build:default-model); skipping");

const rows = (await Deno.readTextFile(new URL("../../data/new_facts.train.jsonl", import.meta.url)))
  .trim().split("\n").slice(0, 6).map((l) => JSON.parse(l));

Deno.test({
  name: "e2e: real server, default model — fine-tune job → SSE → artifacts → generate",
  ignore: !present,
  fn: async () => {
    const data = await Deno.makeTempDir();
    const token = "e2e-token";
    // the server's defaults: wasm at 2 threads, jobs and generation on workers
    const srv = await startServer({
      POSTTRAIN_DATA_DIR: data,
      POSTTRAIN_TOKEN: token,
      POSTTRAIN_CHUNK_STEPS: "4",
    });
    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    try {
      // with a token, reads need it too
      const closed = await fetch(`${srv.url}/v1/models`);
      assert.equal(closed.status, 401);
      await closed.body?.cancel();
      const read = { authorization: `Bearer ${token}` };
      const models = await (await fetch(`${srv.url}/v1/models`, { headers: read })).json();
      assert.ok(models.data.some((m: { id: string }) => m.id === "default"));
      const body = {
        type: "finetune",
        model: "default",
        method: "full",
        data: rows,
        steps: 10,
        lr: 1e-3,
        batch_size: 2,
        warmup: 2,
      };
      const denied = await fetch(`${srv.url}/v1/jobs`, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "content-type": "application/json" },
      });
      assert.equal(denied.status, 401);
      await denied.body?.cancel();
      const res = await fetch(`${srv.url}/v1/jobs`, {
        method: "POST",
        body: JSON.stringify(body),
        headers: auth,
      });
      assert.equal(res.status, 202);
      const { id, status } = await res.json();
      assert.equal(status, "queued");
      const events = await followSse(`${srv.url}/v1/jobs/${id}/events`, read);
      const last = events.at(-1)!;
      assert.equal(last.event, "succeeded", JSON.stringify(last.data.error ?? last.data));
      const steps = events.map((e) => (e.data.progress as { step: number }).step);
      assert.ok(steps.every((s, i) => i === 0 || s >= steps[i - 1]), `progress goes forward: ${steps}`);
      const result = last.data.result as Record<string, number>;
      assert.equal(result.steps, 10);
      assert.ok(result.loss_end < result.loss_start, JSON.stringify(result));
      const job = await (await fetch(`${srv.url}/v1/jobs/${id}`, { headers: read })).json();
      assert.equal(job.status, "succeeded");
      const list = (await (await fetch(`${srv.url}/v1/jobs/${id}/artifacts`, { headers: read })).json())
        .data as {
          name: string;
          size: number;
          sha256: string;
        }[];
      const dl = join(data, "download");
      await Deno.mkdir(dl);
      for (const a of list) {
        const r = await fetch(`${srv.url}/v1/jobs/${id}/artifacts/${a.name}`, { headers: read });
        assert.equal(r.status, 200);
        const bytes = new Uint8Array(await r.arrayBuffer());
        assert.equal(bytes.length, a.size, a.name);
        assert.equal(await sha256(bytes), a.sha256, a.name);
        await Deno.writeFile(join(dl, a.name), bytes);
      }
      assert.ok(
        list.some((a) => a.name === "model.safetensors") && list.some((a) => a.name === "tokenizer.json"),
      );
      // the downloaded model is an HF dir the library loads; it learned the rows
      const base = await evaluate({ model: "default", data: rows, batchSize: 6 });
      const tuned = await evaluate({ model: dl, data: rows, batchSize: 6 });
      assert.ok(tuned.loss < base.loss, `${tuned.loss} < ${base.loss}`);
      const prompt = "Shis Grejez is an";
      const g = await fetch(`${srv.url}/v1/generate`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ model: "default", adapter: id, prompt, max_new_tokens: 12 }),
      });
      assert.equal(g.status, 200);
      const { text } = await g.json();
      assert.ok(text.length > 0);
      // greedy decoding of the downloaded weights gives the same text as the server's
      assert.equal((await generate({ model: dl, prompt, maxNewTokens: 12 })).text, text);
    } finally {
      await srv.stop();
    }
  },
});
