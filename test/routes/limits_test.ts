/**
 * What a public server needs (issue 18.2–18.4): private reads with a token (and public ones when the
 * operator says so), no server paths in /v1/models, DELETE and retention removing finished jobs with
 * their files, the disk used, a per-client rate limit (429 + Retry-After), a backend allow-list (422
 * naming the field), nosniff everywhere and a CSP on HTML.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { post, ROWS, testApp } from "./_app.ts";
import { parseRateLimit } from "../../routes/limits.ts";

const FT = { type: "finetune", model: "tiny", data: ROWS, steps: 1 };
const AUTH = { authorization: "Bearer s3cret" };

async function done(
  app: { request: (p: string, i?: RequestInit) => Response | Promise<Response> },
  id: string,
) {
  for (let i = 0; i < 600; i++) {
    const j = await (await app.request(`/v1/jobs/${id}`, { headers: AUTH })).json();
    if (["succeeded", "failed", "canceled"].includes(j.status)) return j;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`job ${id} did not end`);
}

Deno.test("limits: with a token every /v1 read needs it (models, jobs, record, events, history, artifacts); public reads open them", async () => {
  const t = await testApp({ token: "s3cret" });
  try {
    const res = await post(t.app, "/v1/jobs", FT, AUTH);
    assert.equal(res.status, 202);
    const { id } = await res.json();
    await done(t.app, id);
    const reads = [
      "/v1/models",
      "/v1/jobs",
      `/v1/jobs/${id}`,
      `/v1/jobs/${id}/events`,
      `/v1/jobs/${id}/history`,
      `/v1/jobs/${id}/artifacts`,
      `/v1/jobs/${id}/artifacts/model.safetensors`,
    ];
    for (const path of reads) {
      const closed = await t.app.request(path);
      assert.equal(closed.status, 401, path);
      const body = await closed.json();
      assert.equal(body.error.code, "unauthorized", path);
      assert.equal(typeof body.error.message, "string");
      assert.equal(
        (await t.app.request(path, { headers: { authorization: "Bearer nope" } })).status,
        401,
        path,
      );
      const open = await t.app.request(path, { headers: AUTH });
      assert.equal(open.status, 200, path);
      await open.body?.cancel();
    }
    // the models list shows no server path
    const models = await (await t.app.request("/v1/models", { headers: AUTH })).json();
    assert.deepEqual(models.data.map((m: { id: string }) => m.id), ["tiny"]);
    assert.equal(JSON.stringify(models).includes(t.dir), false);
    assert.equal(models.data[0].path, undefined);
  } finally {
    await t.close();
  }
  const p = await testApp({ token: "s3cret", publicReads: true });
  try {
    assert.equal((await p.app.request("/v1/jobs")).status, 200);
    assert.equal((await p.app.request("/v1/models")).status, 200);
    assert.equal((await post(p.app, "/v1/jobs", FT)).status, 401, "writes still need the token");
  } finally {
    await p.close();
  }
});

Deno.test("limits: DELETE on a running job is 200 canceled, on a finished one removes record and files; retention sweeps old finished jobs; disk used is reported", async () => {
  const t = await testApp({ retentionMs: 3_600_000 });
  try {
    const a = (await (await post(t.app, "/v1/jobs", FT)).json()).id;
    const b = (await (await post(t.app, "/v1/jobs", FT)).json()).id;
    await done(t.app, a);
    await done(t.app, b);
    const full = await (await t.app.request("/v1/jobs")).json();
    assert.ok(full.disk_bytes > 1000, JSON.stringify(full.disk_bytes));
    const del = await t.app.request(`/v1/jobs/${a}`, { method: "DELETE" });
    assert.equal(del.status, 200);
    assert.equal((await del.json()).status, "succeeded");
    await assert.rejects(Deno.stat(join(t.dir, "data", "jobs", a)));
    assert.equal((await t.app.request(`/v1/jobs/${a}`)).status, 404);
    // retention: b ended within the hour, so it stays; an hour and a minute later it goes
    assert.deepEqual(await t.runner.sweepRetention(), []);
    const later = Date.now() + 3_660_000;
    assert.deepEqual(await t.runner.sweepRetention(later), [b]);
    await assert.rejects(Deno.stat(join(t.dir, "data", "jobs", b)));
    assert.deepEqual((await (await t.app.request("/v1/jobs")).json()).data, []);
    // a running job is never swept
    const long = (await (await post(t.app, "/v1/jobs", { ...FT, steps: 100_000 })).json()).id;
    for (let i = 0; i < 400; i++) {
      if ((await t.runner.store.get(long))!.status === "running") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(await t.runner.sweepRetention(later), []);
    await assert.rejects(t.runner.remove(long), /running: cancel it first/);
    const c = await t.app.request(`/v1/jobs/${long}`, { method: "DELETE" });
    assert.equal((await c.json()).status, "canceled");
  } finally {
    await t.close();
  }
});

Deno.test("limits: rate limit on mutating requests per client: 429 with Retry-After, reads unaffected", async () => {
  assert.deepEqual(parseRateLimit("3/60"), { requests: 3, perSeconds: 60 });
  assert.equal(parseRateLimit("off"), undefined);
  assert.throws(() => parseRateLimit("lots"), /POSTTRAIN_RATE_LIMIT/);
  const t = await testApp({ rateLimit: { requests: 3, perSeconds: 60 } });
  try {
    const bad = { ...FT, steps: -1 }; // refused (422) after the limiter: still counts, runs nothing
    for (let i = 0; i < 3; i++) assert.equal((await post(t.app, "/v1/jobs", bad)).status, 422);
    const limited = await post(t.app, "/v1/jobs", bad);
    assert.equal(limited.status, 429);
    assert.equal((await limited.json()).error.code, "rate_limited");
    const wait = Number(limited.headers.get("retry-after"));
    assert.ok(wait >= 1 && wait <= 20, String(wait));
    assert.equal((await t.app.request("/v1/jobs")).status, 200, "reads are not limited");
    // another client (remote address, as Deno.serve passes it) has its own bucket
    const other = await t.app.request("/v1/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(bad),
    }, { remoteAddr: { hostname: "10.0.0.2" } });
    assert.equal(other.status, 422);
  } finally {
    await t.close();
  }
});

Deno.test("limits: backends outside POSTTRAIN_BACKENDS are refused naming the field", async () => {
  const t = await testApp({ backends: ["node", "lean"] });
  try {
    for (
      const [path, body] of [["/v1/jobs", { ...FT, backend: "webgpu" }], ["/v1/generate", {
        model: "tiny",
        prompt: "the",
        backend: "wasm",
      }]] as const
    ) {
      const res = await post(t.app, path, body);
      const e = (await res.json()).error;
      assert.equal(res.status, 422, path);
      assert.equal(e.code, "backend_not_allowed");
      assert.equal(e.path, "backend");
      assert.match(e.message, /allowed: node, lean/);
    }
    assert.equal((await post(t.app, "/v1/jobs", { ...FT, backend: "node" })).status, 202);
    await t.runner.idle();
  } finally {
    await t.close();
  }
});

Deno.test("limits: X-Content-Type-Options nosniff on every answer, a CSP on HTML pages", async () => {
  const t = await testApp();
  try {
    for (
      const path of [
        "/health",
        "/v1/jobs",
        "/openapi.json",
        "/nope",
        "/dashboard/app.js",
        "/",
        "/docs",
        "/playground",
      ]
    ) {
      const res = await t.app.request(path);
      await res.body?.cancel();
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
      if ((res.headers.get("content-type") ?? "").startsWith("text/html")) {
        const csp = res.headers.get("content-security-policy") ?? "";
        assert.match(csp, /default-src 'self'/, path);
        assert.match(csp, /object-src 'none'/, path);
        assert.doesNotMatch(csp, /script-src[^;]*'unsafe-inline'/, path);
      }
    }
    // the playground's inline script is allowed by its hash
    const pg = await t.app.request("/playground");
    assert.match(pg.headers.get("content-security-policy")!, /script-src 'self' 'wasm-unsafe-eval' 'sha256-/);
    await pg.body?.cancel();
    const err = await post(t.app, "/v1/jobs", "{");
    assert.equal(err.headers.get("x-content-type-options"), "nosniff");
    await err.body?.cancel();
  } finally {
    await t.close();
  }
});
