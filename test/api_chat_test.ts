/**
 * The chat recipe end to end on a tiny Qwen3 with the real Qwen3 tokenizer and chat template: LoRA on
 * `messages` rows learns the assistant answer, and `generate` with `messages` (library and HTTP) applies
 * the template with its generation prompt; errors for a model dir without one.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { finetune, generate } from "../src/api.ts";
import { loadTokenizer } from "../src/data/tokenize.ts";
import { type ChatTok, renderChat } from "../src/data/chat.ts";
import { createApp, createRunner } from "../routes/app.ts";
import { tinyQwen3 } from "./data/_real_tokenizers.ts";
import { post, waitJob } from "./routes/_app.ts";

const QUESTION = [{ role: "user", content: "Capital of France?" }];

Deno.test("LoRA on messages rows trains; generate with messages continues the template's generation prompt", async () => {
  const root = await Deno.makeTempDir();
  try {
    const model = join(root, "qwen3");
    await tinyQwen3(model);
    const rows = [{ messages: [...QUESTION, { role: "assistant", content: "Paris" }] }];
    const r = await finetune({
      model,
      data: rows,
      method: "lora",
      rank: 8,
      targets: ["q_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
      steps: 20,
      lr: 0.05,
      schedule: "constant",
      batchSize: 1,
      backend: "node",
      out: join(root, "adapter"),
      log: () => {},
    });
    assert.ok(r.lossEnd < 0.7 * r.lossStart, `loss ${r.lossStart} → ${r.lossEnd}`);
    const o = { model, adapter: join(root, "adapter"), maxNewTokens: 8, backend: "node" as const };
    const { text } = await generate({ ...o, messages: QUESTION });
    // the same as continuing the rendered template (with its generation prompt) by hand
    const tok = await loadTokenizer(model) as ChatTok;
    const prompt = renderChat(tok, QUESTION, { addGenerationPrompt: true });
    assert.ok(prompt.endsWith("<|im_start|>assistant\n"));
    assert.equal((await generate({ ...o, prompt })).text, text);
    assert.notEqual((await generate({ ...o, prompt: QUESTION[0].content })).text, text);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("HTTP: generate takes messages (and tools), LoRA jobs take messages rows; prompt xor messages; no template 422", async () => {
  const root = await Deno.makeTempDir();
  await tinyQwen3(join(root, "chat"));
  await tinyQwen3(join(root, "base"), false);
  const opts = {
    models: new Map([["chat", join(root, "chat")], ["base", join(root, "base")]]),
    dataDir: join(root, "data"),
    defaultBackend: "node" as const,
  };
  const runner = createRunner(opts);
  await runner.start();
  const app = createApp({ ...opts, runner });
  try {
    const tools = [{ type: "function", function: { name: "now", parameters: { type: "object" } } }];
    const res = await post(app, "/v1/generate", {
      model: "chat",
      messages: QUESTION,
      tools,
      max_new_tokens: 3,
    });
    assert.equal(res.status, 200, await res.clone().text());
    const want = await generate({
      model: join(root, "chat"),
      messages: QUESTION,
      tools,
      maxNewTokens: 3,
      backend: "node",
    });
    assert.deepEqual(await res.json(), want);
    // a LoRA job on messages rows, then generate with its adapter
    const rows = [{ messages: [...QUESTION, { role: "assistant", content: "Paris" }] }];
    const job = await post(app, "/v1/jobs", {
      type: "finetune",
      model: "chat",
      method: "lora",
      data: rows,
      steps: 2,
      batch_size: 1,
    });
    assert.equal(job.status, 202, await job.clone().text());
    const done = await waitJob(app, (await job.json()).id);
    assert.equal(done.status, "succeeded", JSON.stringify(done.error));
    const tuned = await post(app, "/v1/generate", { model: "chat", adapter: done.id, messages: QUESTION });
    assert.equal(tuned.status, 200, await tuned.clone().text());
    const both = await post(app, "/v1/generate", { model: "chat", prompt: "x", messages: QUESTION });
    assert.equal(both.status, 422);
    assert.equal((await both.json()).error.path, "prompt");
    const none = await post(app, "/v1/generate", { model: "base", messages: QUESTION });
    assert.equal(none.status, 422);
    assert.match((await none.json()).error.message, /no chat template/);
  } finally {
    await runner.stop();
    runner.store.close();
    runner.models.close();
    await Deno.remove(root, { recursive: true });
  }
});
