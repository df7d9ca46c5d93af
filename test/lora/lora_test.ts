/** LoRA: no-op when fresh, only adapter gradients, merge = unmerged graph, PEFT files round trip. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ModelRunner } from "../../src/models/runner.ts";
import { buildLossGraph, paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import { lowerGraph } from "../../src/graph/lower.ts";
import { ancestors } from "../../src/graph/autodiff.ts";
import type { Tensor } from "../../src/graph/ir.ts";
import { isLoraParam, loraAdapter, LoraConfigSchema, patternKey } from "../../src/lora/lora.ts";
import { setupLora } from "../../src/lora/setup.ts";
import { loadAdapter } from "../../src/lora/peft.ts";
import { mergeAdapters, unmergeAdapters } from "../../src/lora/merge.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { randomBatch, tinyGpt2, tinyLlama } from "../models/_tiny.ts";
import { assertClose } from "../_util.ts";

for (const [name, cfg] of [["LLaMA", tinyLlama()], ["GPT-2", tinyGpt2()]] as const) {
  Deno.test(`${name} LoRA: a fresh adapter leaves logits unchanged`, async () => {
    const w = initParams(paramSpecs(cfg), 1);
    const batch = randomBatch(cfg.vocabSize, [5, 3], 2);
    const base = await new ModelRunner(cfg, "node").logits(w, batch);
    const lora = setupLora(cfg, w, {
      rank: 4,
      targets: cfg.arch === "gpt2" ? ["c_attn", "c_fc"] : ["q_proj", "down_proj"],
    });
    const adapted = await new ModelRunner(cfg, "node", undefined, lora.model.adapter).logits(w, batch);
    assertClose(adapted.data as Float32Array, base.data as Float32Array, { atol: 1e-6, label: "logits" });
  });

  Deno.test(`${name} LoRA: trained adapter merged into the weights evaluates like the unmerged graph, unmerge restores`, async () => {
    const w = initParams(paramSpecs(cfg), 1);
    const lora = setupLora(cfg, w, {
      rank: 4,
      alpha: 8,
      targets: cfg.arch === "gpt2" ? ["c_attn", "c_proj"] : ["q_proj", "v_proj", "up_proj"],
      rankPattern: { "layers.1.self_attn.q_proj": 2 },
    });
    const batch = randomBatch(cfg.vocabSize, [6, 4], 3);
    const ex = [0, 1].map((r) => ({
      inputIds: Int32Array.from({ length: 6 }, (_, i) => (i * 7 + r) % cfg.vocabSize),
      labels: Int32Array.from({ length: 6 }, (_, i) => (i < 5 ? ((i + 1) * 7 + r) % cfg.vocabSize : -100)),
      row: r,
    }));
    const t = new Trainer(cfg, w, ex, { steps: 5, lr: 0.05, batchSize: 2 }, "node", lora.model);
    await t.run();
    await t.release();
    const dir = join(await Deno.makeTempDir(), "adapter");
    await lora.save(dir, w, "tiny");
    const adapter = await loadAdapter(dir);
    const unmerged = await new ModelRunner(cfg, "node", undefined, loraAdapter(adapter.config)).logits(
      w,
      batch,
    );
    const base = new Map([...w].filter(([k]) => !isLoraParam(k)).map(([k, v]) => [k, v.slice()]));
    const before = await new ModelRunner(cfg, "node").logits(base, batch);
    mergeAdapters(cfg, base, [adapter]);
    const merged = await new ModelRunner(cfg, "node").logits(base, batch);
    assertClose(merged.data as Float32Array, unmerged.data as Float32Array, {
      atol: 2e-5,
      rtol: 1e-4,
      label: "merged",
    });
    let diff = 0;
    (merged.data as Float32Array).forEach((
      x,
      i,
    ) => (diff = Math.max(diff, Math.abs(x - (before.data as Float32Array)[i]))));
    assert.ok(diff > 1e-3, "training changed nothing");
    unmergeAdapters(cfg, base, [adapter]);
    const restored = await new ModelRunner(cfg, "node").logits(base, batch);
    assertClose(restored.data as Float32Array, before.data as Float32Array, {
      atol: 2e-5,
      label: "unmerged",
    });
  });
}

Deno.test("LoRA gradient graph outputs adapter gradients only and computes no base-weight gradient", () => {
  const cfg = tinyLlama();
  const lc = LoraConfigSchema.parse({ rank: 2, targets: ["q_proj", "v_proj"] });
  const g = buildLossGraph(cfg, { trainable: isLoraParam, adapter: loraAdapter(lc) });
  const outs = Object.keys(g.outputs).filter((n) => n.startsWith("grad:"));
  assert.equal(outs.length, 2 * 2 * cfg.layers);
  assert.ok(outs.every((n) => isLoraParam(n.slice(5))));
  // Weight gradients are rank-2 GEMMs (flattened xᵀ·g). With LoRA, every such GEMM involves the rank r = 2;
  // in the full graph there are [in, out]-shaped ones for every frozen linear.
  const weightGemms = (outputs: Record<string, Tensor>) =>
    [...ancestors(Object.values(outputs))].filter((t) => t.op === "matmul" && t.rank === 2);
  assert.ok(weightGemms(g.outputs).every((t) => t.shape.includes(2)), "a frozen weight gets a gradient GEMM");
  assert.ok(
    weightGemms(buildLossGraph(cfg).outputs).filter((t) => !t.shape.includes(2)).length >= 7 * cfg.layers,
  );
  assert.ok(
    !lowerGraph(g.outputs).outputs.some((o) => o.name === "grad:model.layers.0.self_attn.q_proj.weight"),
  );
});

Deno.test("LoRA dropout: training masks change with the seed; eval graphs have no dropout input", async () => {
  const cfg = tinyLlama();
  const w = initParams(paramSpecs(cfg), 1);
  const lora = setupLora(cfg, w, { rank: 4, dropout: 0.5 });
  for (const [k, v] of w) if (k.endsWith("lora_B.weight")) v.fill(0.3); // make the adapter matter
  const r = new ModelRunner(cfg, "node", lora.model.trainable, lora.model.adapter);
  const b = randomBatch(cfg.vocabSize, [6], 1);
  const seed = (s: number) => ({
    lora_dropout_seed: { dtype: "int64" as const, shape: [], data: BigInt64Array.of(BigInt(s)) },
  });
  const l1 = (await r.lossAndGrad(w, b, 1, seed(1))).lossSum,
    l1b = (await r.lossAndGrad(w, b, 1, seed(1))).lossSum;
  const l2 = (await r.lossAndGrad(w, b, 1, seed(2))).lossSum;
  assert.equal(l1, l1b);
  assert.notEqual(l1, l2);
  const evalInputs = lowerGraph(buildLossGraph(cfg, { adapter: loraAdapter(lora.config) }).outputs).inputs
    .map((i) => i.name);
  assert.ok(!evalInputs.includes("lora_dropout_seed"));
});

Deno.test("PEFT adapter files: config fields and key layout", async () => {
  const cfg = tinyLlama();
  const w = initParams(paramSpecs(cfg), 1);
  const lora = setupLora(cfg, w, {
    rank: 4,
    alpha: 16,
    rslora: true,
    rankPattern: { q_proj: 2 },
    alphaPattern: { v_proj: 4 },
  });
  const dir = join(await Deno.makeTempDir(), "a");
  await lora.save(dir, w, "models/tiny");
  const c = JSON.parse(await Deno.readTextFile(join(dir, "adapter_config.json")));
  assert.equal(c.peft_type, "LORA");
  assert.equal(c.task_type, "CAUSAL_LM");
  assert.deepEqual([c.r, c.lora_alpha, c.use_rslora], [4, 16, true]);
  assert.deepEqual(c.rank_pattern, { q_proj: 2 });
  assert.deepEqual(c.target_modules, ["q_proj", "v_proj"]);
  const a = await loadAdapter(dir);
  assert.deepEqual(a.shapes.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"), [2, 16]);
  assert.deepEqual(a.shapes.get("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"), [8, 4]);
  assert.equal(patternKey(["q_proj"], "model.layers.0.self_attn.q_proj"), "q_proj");
  assert.equal(patternKey(["layers.1.self_attn.q_proj"], "model.layers.0.self_attn.q_proj"), undefined);
});

Deno.test("LoRA: forward-only loss (evaluation) includes the adapter and never drops", async () => {
  const cfg = tinyLlama();
  const w = initParams(paramSpecs(cfg), 1);
  const lora = setupLora(cfg, w, { rank: 4, dropout: 0.5 });
  for (const [k, v] of w) if (k.endsWith("lora_B.weight")) v.fill(0.3);
  const b = randomBatch(cfg.vocabSize, [6], 1);
  const withA = await new ModelRunner(cfg, "node", lora.model.trainable, lora.model.adapter).lossSum(w, b);
  const without = await new ModelRunner(cfg, "node").lossSum(w, b);
  const again = await new ModelRunner(cfg, "node", lora.model.trainable, lora.model.adapter).lossSum(w, b);
  assert.notEqual(withA.lossSum, without.lossSum);
  assert.equal(withA.lossSum, again.lossSum);
});
