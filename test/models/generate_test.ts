/** Generation: the KV-cache path gives the same tokens as re-running the whole prefix. */
import assert from "node:assert/strict";
import { Generator, sampleNext } from "../../src/models/generate.ts";
import { initParams } from "../../src/models/params.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { tinyGpt2, tinyLlama } from "./_tiny.ts";
import { loadModel } from "../../src/models/load.ts";
import { FIXTURES } from "./_families.ts";
import { join } from "node:path";

for (const [name, cfg] of [["GPT-2", tinyGpt2()], ["LLaMA (GQA)", tinyLlama()]] as const) {
  Deno.test(`${name}: generation with and without the KV cache gives the same tokens`, async () => {
    const w = initParams(paramSpecs(cfg), 3);
    for (const v of w.values()) v.forEach((x, i) => (v[i] = x * 8)); // peaky logits, varied tokens
    const g = new Generator(cfg, "node");
    const prompt = [3, 1, 4, 1, 5];
    const cached = await g.generate(w, prompt, { maxNewTokens: 12 });
    const plain = await g.generate(w, prompt, { maxNewTokens: 12, useCache: false });
    assert.deepEqual(cached, plain);
    assert.ok(new Set(cached).size > 1, `degenerate output ${cached}`);
    const s1 = await g.generate(w, prompt, { maxNewTokens: 12, temperature: 1, topK: 10, seed: 7 });
    const s2 = await g.generate(w, prompt, {
      maxNewTokens: 12,
      temperature: 1,
      topK: 10,
      seed: 7,
      useCache: false,
    });
    assert.deepEqual(s1, s2);
    await g.release();
  });
}

Deno.test("sampleNext: greedy, top-k and top-p restrict the candidates", () => {
  const l = Float32Array.from([0, 5, 4, -1]);
  assert.equal(sampleNext(l, {}, Math.random), 1);
  for (let i = 0; i < 50; i++) {
    assert.ok([1, 2].includes(sampleNext(l, { temperature: 1, topK: 2 }, Math.random)));
    assert.equal(sampleNext(l, { temperature: 1, topP: 0.5 }, Math.random), 1);
  }
});

Deno.test("generate: prompt plus new tokens beyond the context is an error", async () => {
  const cfg = tinyLlama();
  const g = new Generator(cfg, "node");
  await assert.rejects(g.generate(initParams(paramSpecs(cfg), 0), [1, 2], { maxNewTokens: 100 }), /context/);
});

Deno.test("LLaMA-family fixtures (windows, NoPE, local/global RoPE, LongRoPE): cached = uncached generation", async () => {
  for (const name of ["mistral", "smollm3", "gemma3_text", "phi3", "phi3_longrope"]) {
    const m = await loadModel(join(FIXTURES, name));
    const g = new Generator(m.config, "node");
    const prompt = [3, 1, 4, 1, 5];
    // past the sliding window (5); LongRoPE stays within its original context (8), where a cache is exact
    const maxNewTokens = name === "phi3_longrope" ? 3 : 12;
    const cached = await g.generate(m.weights, prompt, { maxNewTokens });
    assert.deepEqual(cached, await g.generate(m.weights, prompt, { maxNewTokens, useCache: false }), name);
    await g.release();
  }
});
