/** Coreset jobs over HTTP (cld, colm) match the CLI; their selection trains a fine-tune job (data_indices, coreset colm). */
import assert from "node:assert/strict";
import { join } from "node:path";
import { post, readSse, testApp, waitJob } from "./_app.ts";
import { cli } from "../cli/_cli.ts";
import { rng } from "../_util.ts";

/** Pre-tokenized rows of three sources, one of them small (vocab of the tiny model: 270). */
const r = rng(5);
const ids = (n: number) => Array.from({ length: n }, () => Math.floor(r() * 260));
const DATA = Array.from({ length: 14 }, (_, i) => ({
  input_ids: ids(6 + (i % 3)),
  source: i === 6 ? "rare" : i % 2 ? "a" : "b",
}));
const VAL = [{ input_ids: ids(7), source: "a" }, { input_ids: ids(8), source: "b" }];

const jsonl = (rows: unknown[]) => rows.map((x) => JSON.stringify(x)).join("\n");

Deno.test("coreset jobs: cld and colm give the CLI's selection as selection.json, with progress events", async () => {
  const t = await testApp();
  try {
    await Deno.writeTextFile(join(t.dir, "d.jsonl"), jsonl(DATA));
    await Deno.writeTextFile(join(t.dir, "v.jsonl"), jsonl(VAL));
    const cases = [
      { method: "cld", val: VAL, epochs: 1, evals_per_epoch: 2, budget: "proportional" },
      { method: "colm", keep_sources: ["rare"], directions: 2 },
    ];
    for (const extra of cases) {
      const res = await post(t.app, "/v1/jobs", {
        type: "coreset",
        model: "tiny",
        data: DATA,
        k: 5,
        ...extra,
      });
      assert.equal(res.status, 202, await res.clone().text());
      const job = await res.json();
      assert.equal(job.method, extra.method);
      const events = await readSse(await t.app.request(`/v1/jobs/${job.id}/events`));
      assert.equal(events.at(-1)!.event, "succeeded", JSON.stringify(events.at(-1)!.data.error));
      const done = events.at(-1)!.data;
      assert.deepEqual(done.result, { k: 5, rows: 14 });
      const steps = extra.method === "cld" ? 2 : 1;
      assert.deepEqual(done.progress, { step: steps, steps });
      const names = (done.artifacts as { name: string }[]).map((a) => a.name);
      assert.deepEqual(names, ["selection.json"]);
      const dl = await t.app.request(`/v1/jobs/${job.id}/artifacts/selection.json`);
      assert.equal(dl.headers.get("content-type"), "application/json");
      const sel = await dl.json();
      assert.equal(sel.indices.length, 5);
      assert.equal(sel.scores.length, 5);
      if (extra.method === "colm") assert.equal(sel.indices[0], 6); // the kept source comes first
      const flags = extra.method === "cld"
        ? [
          "--val",
          join(t.dir, "v.jsonl"),
          "--epochs",
          "1",
          "--evals-per-epoch",
          "2",
          "--budget",
          "proportional",
        ]
        : ["--keep-sources", "rare", "--directions", "2"];
      const out = join(t.dir, `${extra.method}.json`);
      const c = await cli([
        "coreset",
        ...["--model", join(t.dir, "models", "tiny"), "--data", join(t.dir, "d.jsonl"), "--backend", "node"],
        ...["--k", "5", "--method", extra.method, "--out", out, ...flags],
      ]);
      assert.equal(c.code, 0, c.err);
      assert.deepEqual(sel, JSON.parse(await Deno.readTextFile(out)));
    }
  } finally {
    await t.close();
  }
});

Deno.test("fine-tune jobs on a coreset: data_indices trains on the selected rows; coreset colm per step", async () => {
  const t = await testApp();
  try {
    const base = { type: "finetune", model: "tiny", steps: 4, lr: 0.01, batch_size: 4 };
    const picked = [9, 0, 6, 3];
    const a = await post(t.app, "/v1/jobs", { ...base, data: DATA, data_indices: picked });
    const b = await post(t.app, "/v1/jobs", { ...base, data: picked.map((i) => DATA[i]) });
    const c = await post(t.app, "/v1/jobs", { ...base, data: DATA, coreset: "colm", coreset_ratio: 0.5 });
    const [ja, jb, jc] = [await a.json(), await b.json(), await c.json()];
    for (const j of [ja, jb, jc]) assert.equal((await waitJob(t.app, j.id)).status, "succeeded");
    const weights = async (id: string) =>
      new Uint8Array(await (await t.app.request(`/v1/jobs/${id}/artifacts/model.safetensors`)).arrayBuffer());
    const [wa, wb, wc] = [await weights(ja.id), await weights(jb.id), await weights(jc.id)];
    assert.ok(
      wa.length === wb.length && wa.every((x, i) => x === wb[i]),
      "data_indices trained on other rows",
    );
    assert.ok(wc.length === wa.length && wc.some((x, i) => x !== wa[i]));
  } finally {
    await t.close();
  }
});

Deno.test("coreset job: a cancel stops CLD between loss checkpoints; nothing is written", async () => {
  const t = await testApp();
  try {
    const body = { type: "coreset", model: "tiny", method: "cld", data: DATA, val: VAL, k: 3, epochs: 1000 };
    const job = await (await post(t.app, "/v1/jobs", { ...body, evals_per_epoch: 100 })).json();
    for (let i = 0; i < 400; i++) {
      const j = await (await t.app.request(`/v1/jobs/${job.id}`)).json();
      if (j.progress.step >= 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const t0 = Date.now();
    const c = await t.app.request(`/v1/jobs/${job.id}`, { method: "DELETE" });
    const canceled = await c.json();
    assert.equal(canceled.status, "canceled");
    assert.ok(Date.now() - t0 < 10_000);
    assert.ok(canceled.progress.step < 100_000 && canceled.progress.steps === 100_000);
    const left = [];
    for await (const e of Deno.readDir(join(t.dir, "data", "jobs", job.id))) left.push(e.name);
    assert.deepEqual(left, ["request.json"]);
  } finally {
    await t.close();
  }
});
