/** Health, OpenAPI document, docs UI, models, unknown routes, and embedding the app in another Hono app. */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { testApp } from "./_app.ts";

Deno.test("app: /health, /v1/models, JSON 404 for unknown routes", async () => {
  const t = await testApp();
  try {
    const h = await t.app.request("/health");
    assert.equal(h.status, 200);
    assert.deepEqual(await h.json(), { status: "ok" });
    const m = await (await t.app.request("/v1/models")).json();
    assert.deepEqual(m.data.map((x: { id: string }) => x.id), ["tiny"]);
    // family, parameters and dtype from config.json and the safetensors header
    assert.equal(m.data[0].family, "llama");
    assert.equal(m.data[0].dtype, "F32");
    assert.ok(m.data[0].parameters > 1000);
    const nf = await t.app.request("/v2/nothing");
    assert.equal(nf.status, 404);
    assert.equal((await nf.json()).error.code, "not_found");
  } finally {
    await t.close();
  }
});

Deno.test("app: /openapi.json is OpenAPI 3.1 from the zod schemas and covers every route; /docs serves a UI", async () => {
  const t = await testApp();
  try {
    const doc = await (await t.app.request("/openapi.json")).json();
    assert.equal(doc.openapi, "3.1.0");
    const paths = Object.keys(doc.paths).sort();
    assert.deepEqual(paths, [
      "/health",
      "/v1/generate",
      "/v1/jobs",
      "/v1/jobs/{id}",
      "/v1/jobs/{id}/artifacts",
      "/v1/jobs/{id}/artifacts/{name}",
      "/v1/jobs/{id}/events",
      "/v1/jobs/{id}/history",
      "/v1/models",
      "/v1/plan",
    ]);
    assert.ok(doc.paths["/v1/jobs"].post && doc.paths["/v1/jobs"].get);
    assert.ok(doc.paths["/v1/jobs/{id}"].delete);
    const s = doc.components.schemas;
    for (
      const name of ["FinetuneJob", "EvalJob", "UnlearnJob", "CoresetJob", "Job", "Error", "GenerateRequest"]
    ) {
      assert.ok(s[name], name);
    }
    // snake_case options with the CLI's ranges and descriptions
    const ft = s.FinetuneJob.properties;
    assert.equal(ft.batch_size.type, "integer");
    assert.equal(ft.grad_accum.default, 1);
    assert.equal(ft.max_grad_norm.default, 1);
    assert.match(ft.lr.description, /learning rate/);
    assert.deepEqual(s.FinetuneJob.required.sort(), ["data", "model", "type"]);
    assert.ok(doc.components.securitySchemes.Bearer);
    assert.deepEqual(doc.paths["/v1/jobs"].post.security, [{ Bearer: [] }]);
    const ui = await t.app.request("/docs");
    assert.equal(ui.status, 200);
    assert.match(ui.headers.get("content-type")!, /text\/html/);
    assert.match(await ui.text(), /<script src="dashboard\/docs.js"><\/script>/);
    assert.match(
      await (await t.app.request("/dashboard/docs.js")).text(),
      /SwaggerUIBundle\(\{ url: "openapi.json"/,
    );
  } finally {
    await t.close();
  }
});

Deno.test("app: embeds under a prefix in another Hono app", async () => {
  const t = await testApp();
  try {
    const outer = new Hono().route("/ml", t.app);
    assert.deepEqual(await (await outer.request("/ml/health")).json(), { status: "ok" });
    assert.equal((await outer.request("/ml/v1/models")).status, 200);
  } finally {
    await t.close();
  }
});
