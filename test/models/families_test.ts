/**
 * Every LLaMA-family fixture (tiny random weights, sharp attention) loads from its HF dir and our
 * logits, loss and gradients (node and WASM) match the PyTorch reference of HF's modeling code; the same weights
 * under a config that gets the family's specifics wrong (RoPE scaling, window, NoPE, local θ,
 * partial rotary, LongRoPE switch) do not match, so the fixtures can tell.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadModel } from "../../src/models/load.ts";
import { type DecoderConfig, parseConfig, toHfConfig } from "../../src/models/config.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import { makeBatch } from "../../src/data/batch.ts";
import { assertClose } from "../_util.ts";
import { FAMILY_FIXTURES, fixtureCases, fixtureExpected, FIXTURES } from "./_families.ts";

/** Logits at real (non-pad) positions, row-major. */
function realLogits(all: Float32Array, lens: number[], T: number, V: number): Float32Array {
  return Float32Array.from(lens.flatMap((n, r) => Array.from(all.subarray(r * T * V, (r * T + n) * V))));
}

/** A config that gets the family's distinctive feature wrong (for the negative control). */
const WRONG: Record<string, (c: DecoderConfig) => void> = {
  llama3: (c) => (c.rope = { type: "default", theta: c.rope.theta, dim: c.rope.dim }),
  llama_linear: (c) => (c.rope = { ...c.rope, factor: 1 }),
  qwen2: (c) => (c.window = c.window.map(() => null)),
  qwen3: (c) => (c.rope = { ...c.rope, theta: 10000 }),
  mistral: (c) => (c.window = c.window.map(() => null)),
  smollm3: (c) => (c.useRope = c.useRope.map(() => true)),
  gemma3_text: (c) => (c.localRope = c.rope),
  phi3: (c) => (c.rope = { ...c.rope, dim: c.headDim }),
  phi3_longrope: (
    c,
  ) => (c.rope = { ...c.rope, longFactor: c.rope.shortFactor, shortFactor: c.rope.longFactor }),
};

for (const name of FAMILY_FIXTURES) {
  Deno.test(`${name}: logits, loss and gradients match the HF reference; a wrong config does not`, async () => {
    const m = await loadModel(join(FIXTURES, name));
    const expected = await fixtureExpected(name);
    const runner = new ModelRunner(m.config, "node"), wasm = new ModelRunner(m.config, "wasm");
    const wrongCfg = structuredClone(m.config);
    WRONG[name](wrongCfg);
    const wrong = new ModelRunner(wrongCfg, "node");
    const V = m.config.vocabSize;
    try {
      for (const [ci, examples] of (await fixtureCases(name)).entries()) {
        const batch = makeBatch(examples);
        const lens = examples.map((e) => e.inputIds.length);
        const want = expected.get(`case${ci}.logits`)!.data;
        const got = realLogits(
          (await runner.logits(m.weights, batch)).data as Float32Array,
          lens,
          batch.T,
          V,
        );
        const ref = realLogits(want, lens, batch.T, V);
        assertClose(got, ref, { atol: 2e-4, rtol: 2e-4, label: `${name} case ${ci} logits` });

        for (const r of [runner, wasm]) { // node, and the default WASM backend
          const { lossSum, grads } = await r.lossAndGrad(m.weights, batch);
          assertClose([lossSum], expected.get(`case${ci}.loss`)!.data, { atol: 1e-5, label: `${name} loss` });
          assert.equal(grads.size, r.specs.length);
          for (const [k, g] of grads) {
            const w = expected.get(`case${ci}.grad.${k}`);
            assert.ok(w, `reference has a gradient for ${k}`);
            const scale = Math.max(...w.data.map(Math.abs));
            assertClose(g, w.data, {
              atol: 1e-4 * scale + 1e-7,
              rtol: 1e-3,
              label: `${name} case ${ci} ${r.backend} ∂${k}`,
            });
          }
        }

        const bad = realLogits((await wrong.logits(m.weights, batch)).data as Float32Array, lens, batch.T, V);
        const diff = Math.max(...bad.map((x, i) => Math.abs(x - ref[i])));
        assert.ok(diff > 0.05, `${name} case ${ci}: the wrong config's logits differ by only ${diff}`);
      }
    } finally {
      await runner.release();
      await wasm.release();
      await wrong.release();
    }
  });
}

Deno.test("every fixture config round-trips through toHfConfig", async () => {
  for (const name of FAMILY_FIXTURES) {
    const c = parseConfig(JSON.parse(await Deno.readTextFile(join(FIXTURES, name, "config.json"))), name);
    assert.deepEqual(parseConfig(toHfConfig(c), `${name} (written)`), c, name);
  }
});
