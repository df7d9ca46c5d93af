/**
 * Whole models on `lean`: gradients equal onnxruntime's, recomputation changes none of them, the
 * static plan is what the executor uses, and streamed gradients equal returned ones.
 */
import assert from "node:assert/strict";
import { buildLossGraph } from "../../../src/models/model.ts";
import { initParams } from "../../../src/models/params.ts";
import type { DecoderConfig } from "../../../src/models/config.ts";
import { scalarFeed, tokenFeeds, weightFeeds } from "../../../src/models/feeds.ts";
import { compile } from "../../../src/runtime/compile.ts";
import type { HostTensor } from "../../../src/runtime/session.ts";
import { compileLean } from "../../../src/runtime/lean/program.ts";
import { LeanDevice } from "../../../src/runtime/lean/device.ts";
import { randomBatch, tinyGpt2, tinyLlama } from "../../models/_tiny.ts";

function setup(cfg: DecoderConfig, seed = 3) {
  const g = buildLossGraph(cfg);
  const w = initParams(g.params.specs, seed);
  // larger weights than init so attention is sharp and every path matters
  for (const [k, v] of w) if (!k.includes("norm") && !k.includes("ln_")) v.forEach((x, i) => (v[i] = x * 5));
  const b = randomBatch(cfg.vocabSize, [7, 4, 6], seed);
  const feeds = weightFeeds(g.params.specs, w, tokenFeeds(b));
  feeds.loss_weight = scalarFeed(1 / b.targetTokens);
  return { g, feeds, shapes: Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.shape])) };
}

/** max |a − b| / max |b| over every output. */
function worst(a: Record<string, HostTensor>, b: Record<string, HostTensor>): [number, string] {
  let w = 0, at = "";
  for (const [n, t] of Object.entries(b)) {
    const x = a[n].data as Float32Array, y = t.data as Float32Array;
    let num = 0, den = 0;
    for (let i = 0; i < y.length; i++) {
      num = Math.max(num, Math.abs(x[i] - y[i]));
      den = Math.max(den, Math.abs(y[i]));
    }
    if (num / (den || 1) > w) [w, at] = [num / (den || 1), n];
  }
  return [w, at];
}

const models: [string, DecoderConfig][] = [
  ["GPT-2", tinyGpt2()],
  ["LLaMA (GQA)", tinyLlama()],
  ["LLaMA (multi-head)", tinyLlama({ num_key_value_heads: 4 })],
  ["Qwen2 (q/k/v bias, tied)", tinyLlama({ model_type: "qwen2", tie_word_embeddings: true })],
];
for (const [name, cfg] of models) {
  Deno.test(`lean ${name}: loss and every gradient equal onnxruntime's within 1e-4 relative`, async () => {
    const { g, feeds } = setup(cfg);
    const want = await (await compile(g.outputs, { backend: "node" })).run(feeds);
    const got = await (await compile(g.outputs, { backend: "lean" })).run(feeds);
    const [w, at] = worst(got, want);
    assert.ok(w < 1e-4, `${at}: relative error ${w}`);
  });
}

Deno.test("lean: recomputation at block boundaries changes no gradient and lowers the planned arena", async () => {
  const cfg = tinyLlama({ num_hidden_layers: 4, hidden_size: 32, intermediate_size: 64 });
  const { g, feeds, shapes } = setup(cfg);
  const device = await LeanDevice.create({ reserve: 64 << 20 });
  const plain = await compileLean(g.outputs, { device, recompute: false });
  const rc = await compileLean(g.outputs, { device, recompute: true });
  const a = await plain.run(feeds), b = await rc.run(feeds);
  for (const n of Object.keys(a)) {
    assert.deepEqual(b[n].data, a[n].data, `${n} differs with recomputation`);
  }
  const pa = plain.plan(shapes).arenaBytes, pb = rc.plan(shapes).arenaBytes;
  assert.ok(pb < pa, `arena with recomputation ${pb} ≥ without ${pa}`);
});

Deno.test("lean: the plan's arena bytes are exactly what a run uses, and the same every run", async () => {
  const { g, feeds, shapes } = setup(tinyLlama());
  const device = await LeanDevice.create({ reserve: 64 << 20 });
  const p = await compileLean(g.outputs, { device });
  const planned = p.plan(shapes, new Set()).arenaBytes;
  await p.run(feeds);
  assert.equal(device.usage().arenaBytes, planned);
  const top = device.usage().memoryBytes;
  await p.run(feeds);
  assert.equal(device.usage().arenaBytes, planned);
  assert.equal(device.usage().memoryBytes, top, "a second run allocated");
});

Deno.test("lean: gradients streamed as soon as final equal returned ones, and need a smaller arena", async () => {
  const { g, feeds, shapes } = setup(tinyLlama({ num_hidden_layers: 3 }));
  const device = await LeanDevice.create({ reserve: 64 << 20 });
  const p = await compileLean(g.outputs, { device });
  const kept = await p.run(feeds);
  const streamed: Record<string, Float32Array> = {};
  const rest = await p.run(feeds, undefined, {
    onOutput: (n, t) => streamed[n] = (t.data as Float32Array).slice(),
    stream: (n) => n.startsWith("grad:"),
  });
  assert.deepEqual(Object.keys(rest).sort(), ["loss_sum", "tokens"]);
  for (const [n, t] of Object.entries(kept)) {
    if (n.startsWith("grad:")) assert.deepEqual(streamed[n], t.data, n);
  }
  assert.ok(device.usage().arenaBytes <= p.plan(shapes, new Set()).arenaBytes);
});

Deno.test("lean refuses at compile time a graph with an op it cannot run, naming the op", async () => {
  const { input, cast } = await import("../../../src/graph/ops.ts");
  const x = input("x", "float32", [2]);
  await assert.rejects(() => compile({ y: cast(x, "float16") }, { backend: "lean" }), /lean.*float16/);
});
