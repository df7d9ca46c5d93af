/**
 * Restart: kill -9 the real server in the middle of a fine-tune job on the default model, start
 * it again on the same data dir, and see the job resume from its last checkpoint and finish with
 * artifacts that are intact (sha256) and byte-identical to an uninterrupted run's.
 * Skips (with a message) when models/default has not been built.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { followSse, hasDefaultModel, startServer } from "./_server.ts";
import { sha256 } from "./_app.ts";
import { finetune } from "../../src/api.ts";

const present = await hasDefaultModel();
if (!present) console.warn("restart: models/default is missing (deno task build:default-model); skipping");

const rows = (await Deno.readTextFile(new URL("../../data/new_facts.train.jsonl", import.meta.url)))
  .trim().split("\n").slice(0, 8).map((l) => JSON.parse(l));
const OPTS = { steps: 12, lr: 1e-3, batch_size: 2, warmup: 2 }; // the server's default backend: wasm

Deno.test({
  name: "restart: a job killed mid-run resumes after restart and finishes with intact, exact artifacts",
  ignore: !present,
  fn: async () => {
    const data = await Deno.makeTempDir();
    const env = { POSTTRAIN_DATA_DIR: data, POSTTRAIN_CHUNK_STEPS: "2" };
    let srv = await startServer(env);
    let id = "";
    try {
      const res = await fetch(`${srv.url}/v1/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "finetune", model: "default", data: rows, ...OPTS }),
      });
      assert.equal(res.status, 202);
      id = (await res.json()).id;
      // wait for two checkpoints, then crash in the middle of the next chunk
      for (let i = 0; i < 1200; i++) {
        const j = await (await fetch(`${srv.url}/v1/jobs/${id}`)).json();
        if ((j.progress.checkpoint_step ?? 0) >= 4 && j.progress.step > j.progress.checkpoint_step) break;
        assert.equal(j.status === "failed", false, JSON.stringify(j.error));
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      await srv.kill();
    }
    srv = await startServer(env);
    try {
      // the restarted server takes the job over under a lease of its own (issue 18), just after it starts
      let after = await (await fetch(`${srv.url}/v1/jobs/${id}`)).json();
      for (let i = 0; i < 600 && after.resumes === undefined && after.status === "running"; i++) {
        await new Promise((r) => setTimeout(r, 50));
        after = await (await fetch(`${srv.url}/v1/jobs/${id}`)).json();
      }
      assert.equal(after.resumes, 1, `the job was running when the server died: ${JSON.stringify(after)}`);
      assert.ok(
        after.progress.checkpoint_step >= 4 && after.progress.checkpoint_step < 12,
        JSON.stringify(after.progress),
      );
      const events = await followSse(`${srv.url}/v1/jobs/${id}/events`);
      const last = events.at(-1)!;
      assert.equal(last.event, "succeeded", JSON.stringify(last.data.error));
      assert.equal((last.data.result as Record<string, number>).steps, 12);
      const list = (await (await fetch(`${srv.url}/v1/jobs/${id}/artifacts`)).json()).data as {
        name: string;
        size: number;
        sha256: string;
      }[];
      const ref = join(data, "reference");
      await finetune({
        model: "default",
        data: rows,
        out: ref,
        steps: 12,
        lr: 1e-3,
        batchSize: 2,
        warmup: 2,
      });
      for (const a of list) {
        const bytes = new Uint8Array(
          await (await fetch(`${srv.url}/v1/jobs/${id}/artifacts/${a.name}`)).arrayBuffer(),
        );
        assert.equal(await sha256(bytes), a.sha256, `${a.name}: corrupt download`);
        const want = await Deno.readFile(join(ref, a.name));
        assert.ok(
          want.length === bytes.length && want.every((x, i) => x === bytes[i]),
          `${a.name} differs from one uninterrupted run`,
        );
      }
      assert.ok(list.some((a) => a.name === "model.safetensors"));
      const left: string[] = [];
      for await (const e of Deno.readDir(join(data, "jobs", id, "out"))) left.push(e.name);
      assert.deepEqual(left.sort(), list.map((a) => a.name).sort(), "no temp files beside the artifacts");
    } finally {
      await srv.stop();
    }
  },
});
