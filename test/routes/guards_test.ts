/** Request guards: malformed JSON, wrong types, ranges, unknown fields/models, path traversal, token, body size. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { post, ROWS, testApp, tinyModelDir } from "./_app.ts";
import { JOB_TYPES } from "../../src/jobs/spec.ts";
import { FINETUNE_METHODS } from "../../src/train/finetune_options.ts";
import { RANK_ALLOCATIONS } from "../../src/lora/options.ts";

const job = (extra: Record<string, unknown> = {}) => ({
  type: "finetune",
  model: "tiny",
  data: ROWS,
  steps: 2,
  ...extra,
});

async function expectError(res: Response, status: number, code: string, path?: string): Promise<string> {
  const body = await res.json();
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code, JSON.stringify(body));
  if (path !== undefined) assert.equal(body.error.path, path, JSON.stringify(body));
  assert.equal(typeof body.error.message, "string");
  return body.error.message;
}

Deno.test("guards: malformed JSON 400, wrong content type 415, a POST with no body and no content type 415", async () => {
  const t = await testApp();
  try {
    await expectError(await post(t.app, "/v1/jobs", '{"type": "finetune",'), 400, "invalid_json");
    await expectError(await post(t.app, "/v1/generate", "{nope"), 400, "invalid_json");
    const res = await t.app.request("/v1/jobs", {
      method: "POST",
      body: "a=1",
      headers: { "content-type": "text/plain" },
    });
    await expectError(res, 415, "unsupported_media_type");
    const msg = await expectError(
      await t.app.request("/v1/jobs", { method: "POST" }),
      415,
      "unsupported_media_type",
    );
    assert.match(msg, /Content-Type: none/);
    await expectError(
      await t.app.request("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" } }),
      400,
      "invalid_json",
    );
    await expectError(await post(t.app, "/v1/jobs", "[]"), 422, "invalid_request");
  } finally {
    await t.close();
  }
});

Deno.test("guards: wrong types and out-of-range numbers name the field (422)", async () => {
  const t = await testApp();
  try {
    const cases: [Record<string, unknown>, string][] = [
      [job({ steps: "ten" }), "steps"],
      [job({ steps: 0 }), "steps"],
      [job({ steps: 2.5 }), "steps"],
      [job({ lr: 5 }), "lr"],
      [job({ lr: -1 }), "lr"],
      [job({ batch_size: 0 }), "batch_size"],
      [job({ grad_accum: 5000 }), "grad_accum"],
      [job({ weight_decay: "x" }), "weight_decay"],
      [job({ schedule: "exp" }), "schedule"],
      [job({ backend: "cuda" }), "backend"],
      [job({ method: "sgd" }), "method"],
      [job({ model: 3 }), "model"],
      [job({ data: [] }), "data"],
      [job({ data: "rows.jsonl" }), "data"],
      [job({ data: [{ text: "ok" }, { prompt: "p", completion: 3 }] }), "data.1.completion"],
      [job({ data: [{ input_ids: [1, -2] }] }), "data.0.input_ids.1"],
      [job({ data: [{ foo: "bar" }] }), "data.0"],
      [job({ stepz: 3 }), "stepz"],
      [{ type: "train", model: "tiny" }, "type"],
      [{ model: "tiny", data: ROWS }, "type"],
    ];
    for (const [body, path] of cases) {
      const msg = await expectError(await post(t.app, "/v1/jobs", body), 422, "invalid_request", path);
      assert.ok(msg.startsWith(path), `${path}: ${msg}`);
    }
    const gen = [
      [{ model: "tiny", prompt: "" }, "prompt"],
      [{ model: "tiny", prompt: "hi", max_new_tokens: 0 }, "max_new_tokens"],
      [{ model: "tiny", prompt: "hi", max_new_tokens: 1e9 }, "max_new_tokens"],
      [{ model: "tiny", prompt: "hi", top_p: 2 }, "top_p"],
      [{ model: "tiny", prompt: "hi", temperature: -1 }, "temperature"],
      [{ model: "tiny", prompt: 7 }, "prompt"],
    ] as const;
    for (const [body, path] of gen) {
      await expectError(await post(t.app, "/v1/generate", body), 422, "invalid_request", path);
    }
    const q = await t.app.request("/v1/jobs?limit=0");
    await expectError(q, 422, "invalid_request", "limit");
  } finally {
    await t.close();
  }
});

Deno.test("guards: an unknown type / method / rank_allocation answers 422 naming it and what is accepted", async () => {
  const t = await testApp();
  try {
    const type = await expectError(
      await post(t.app, "/v1/jobs", job({ type: "nope" })),
      422,
      "invalid_request",
      "type",
    );
    assert.match(type, new RegExp(JOB_TYPES.join(", ")));
    const method = await expectError(
      await post(t.app, "/v1/jobs", job({ method: "nope" })),
      422,
      "invalid_request",
      "method",
    );
    for (const m of FINETUNE_METHODS) assert.match(method, new RegExp(`"${m}"`));
    const alloc = await expectError(
      await post(t.app, "/v1/jobs", job({ method: "lora", rank_allocation: "nope" })),
      422,
      "invalid_request",
      "rank_allocation",
    );
    for (const a of RANK_ALLOCATIONS) assert.match(alloc, new RegExp(`"${a}"`));
  } finally {
    await t.close();
  }
});

Deno.test("guards: unknown model 404, path traversal refused, rows too long or untokenizable 422", async () => {
  const t = await testApp();
  const root = join(t.dir, "root");
  await tinyModelDir(join(root, "org", "m"));
  await Deno.symlink(join(t.dir, "models", "tiny"), join(root, "escape"));
  const r = await testApp({ modelsRoot: root });
  try {
    await expectError(await post(t.app, "/v1/jobs", job({ model: "nope" })), 404, "model_not_found", "model");
    await expectError(
      await post(t.app, "/v1/generate", { model: "nope", prompt: "x" }),
      404,
      "model_not_found",
      "model",
    );
    // without a models root, a path is just an unknown name
    await expectError(
      await post(t.app, "/v1/jobs", job({ model: join(t.dir, "models", "tiny") })),
      404,
      "model_not_found",
    );
    for (const bad of ["../models/tiny", "org/../../models/tiny", "/etc", "org/./m", "org\\m"]) {
      await expectError(
        await post(r.app, "/v1/jobs", job({ model: bad })),
        422,
        "invalid_model_ref",
        "model",
      );
    }
    await expectError(
      await post(r.app, "/v1/jobs", job({ model: "escape" })),
      422,
      "invalid_model_ref",
      "model",
    );
    await expectError(
      await post(r.app, "/v1/jobs", job({ model: "org/missing" })),
      404,
      "model_not_found",
      "model",
    );
    const ok = await post(r.app, "/v1/jobs", job({ model: "org/m", steps: 1 }));
    assert.equal(ok.status, 202, await ok.clone().text());
    const models = (await (await r.app.request("/v1/models")).json()).data.map((m: { id: string }) => m.id);
    assert.deepEqual(models, ["tiny"]); // root dirs need their own config.json; symlinks are not listed
    const long = job({ data: [{ text: "hello ".repeat(80) }] });
    const msg = await expectError(await post(t.app, "/v1/jobs", long), 422, "invalid_row", "data.0");
    assert.match(msg, /longer than the model's context/);
    const truncated = await post(t.app, "/v1/jobs", { ...long, truncate: true, steps: 1 });
    assert.equal(truncated.status, 202);
    const noTarget = job({ data: [{ input_ids: [1, 2], labels: [-100, -100] }] });
    await expectError(await post(t.app, "/v1/jobs", noTarget), 422, "invalid_row", "data.0.labels");
    await r.runner.idle();
    await t.runner.idle();
  } finally {
    await r.close();
    await t.close();
  }
});

Deno.test("guards: bearer token on mutating routes and /v1 reads (401), the pages stay open; body limit 413", async () => {
  const t = await testApp({ token: "s3cret", maxBodyBytes: 2048 });
  try {
    let msg = await expectError(await post(t.app, "/v1/jobs", job()), 401, "unauthorized");
    assert.match(msg, /missing bearer token/);
    msg = await expectError(
      await post(t.app, "/v1/jobs", job(), { authorization: "Bearer nope" }),
      401,
      "unauthorized",
    );
    assert.match(msg, /wrong bearer token/);
    await expectError(await post(t.app, "/v1/generate", { model: "tiny", prompt: "x" }), 401, "unauthorized");
    await expectError(await t.app.request("/v1/jobs/job_x", { method: "DELETE" }), 401, "unauthorized");
    for (const open of ["/health", "/", "/docs", "/openapi.json"]) {
      assert.equal((await t.app.request(open)).status, 200, open);
    }
    await expectError(await t.app.request("/v1/jobs"), 401, "unauthorized");
    const auth = { authorization: "Bearer s3cret" };
    assert.equal((await t.app.request("/v1/jobs", { headers: auth })).status, 200);
    const big = job({ data: [{ text: "x".repeat(4000) }] });
    msg = await expectError(await post(t.app, "/v1/jobs", big, auth), 413, "payload_too_large");
    assert.match(msg, /2048 bytes/);
    // a chunked body without Content-Length is counted as it streams
    const stream = new Blob([JSON.stringify(big)]).stream();
    const res = await t.app.request("/v1/jobs", {
      method: "POST",
      body: stream,
      headers: { "content-type": "application/json", ...auth, "transfer-encoding": "chunked" },
    });
    await expectError(res, 413, "payload_too_large");
    const ok = await post(t.app, "/v1/jobs", job({ steps: 1 }), auth);
    assert.equal(ok.status, 202, await ok.clone().text());
    await t.runner.idle();
  } finally {
    await t.close();
  }
});
