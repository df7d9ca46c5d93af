/**
 * The typed client (openapi-typescript types + openapi-fetch) drives a fine-tune end to end, and the
 * committed document and types are what the app serves now.
 */
import assert from "node:assert/strict";
import { posttrainClient } from "../../routes/client/client.ts";
import { staleOpenapiFiles } from "../../src/build/openapi.ts";
import { ROWS, sha256, testApp } from "./_app.ts";

Deno.test("openapi: docs/openapi.json and routes/client/schema.ts are up to date with the app (deno task openapi)", async () => {
  assert.deepEqual(await staleOpenapiFiles(), []);
});

Deno.test("typed client: submit a LoRA fine-tune, follow it, list and download its adapter (sha256 as listed), generate with it, cancel a second job", async () => {
  const token = "client-test-token";
  const t = await testApp({ token });
  try {
    const api = posttrainClient("http://posttrain.test", {
      token,
      fetch: (req) => Promise.resolve(t.app.fetch(req)),
    });
    const sub = await api.POST("/v1/jobs", {
      body: {
        type: "finetune",
        model: "tiny",
        method: "lora",
        data: ROWS,
        steps: 8,
        lr: 0.01,
        batch_size: 3,
      },
    });
    assert.equal(sub.response.status, 202, JSON.stringify(sub.error));
    const id = sub.data!.id;
    // @ts-expect-error: steps is an integer in the schema, so a string does not compile
    void (() => api.POST("/v1/jobs", { body: { type: "finetune", model: "tiny", data: ROWS, steps: "8" } }));
    let job = sub.data!;
    for (let i = 0; i < 600 && !["succeeded", "failed", "canceled"].includes(job.status); i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = (await api.GET("/v1/jobs/{id}", { params: { path: { id } } })).data!;
    }
    assert.equal(job.status, "succeeded", JSON.stringify(job.error));
    assert.ok(job.result.loss_end < job.result.loss_start);
    const list = (await api.GET("/v1/jobs/{id}/artifacts", { params: { path: { id } } })).data!.data;
    const adapter = list.find((a) => a.name === "adapter_model.safetensors")!;
    const dl = await api.GET("/v1/jobs/{id}/artifacts/{name}", {
      params: { path: { id, name: adapter.name } },
      parseAs: "arrayBuffer",
    });
    assert.equal(await sha256(new Uint8Array(dl.data as ArrayBuffer)), adapter.sha256);
    const gen = await api.POST("/v1/generate", {
      body: { model: "tiny", adapter: id, prompt: "the hello", max_new_tokens: 4 },
    });
    assert.equal(typeof gen.data!.text, "string");
    const plan = await api.POST("/v1/plan", { body: { type: "eval", model: "tiny", data: ROWS } });
    assert.equal(typeof plan.data!.total_bytes, "number");
    const second = await api.POST("/v1/jobs", {
      body: { type: "finetune", model: "tiny", method: "lora", data: ROWS, steps: 100000 },
    });
    const canceled = await api.DELETE("/v1/jobs/{id}", { params: { path: { id: second.data!.id } } });
    assert.equal(canceled.data!.status, "canceled");
    // errors come back typed too
    const bad = await api.POST("/v1/jobs", { body: { type: "finetune", model: "nope", data: ROWS } });
    assert.equal(bad.response.status, 404);
    assert.equal(bad.error!.error.code, "model_not_found");
  } finally {
    await t.close();
  }
});
