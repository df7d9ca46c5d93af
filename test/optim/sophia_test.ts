/** Sophia: clipped preconditioned sign steps, Hessian EMA, and training with it lowers the loss. */
import assert from "node:assert/strict";
import { Sophia } from "../../src/optim/sophia.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import { randomExamples, tinyLlama } from "../models/_tiny.ts";
import { assertClose, rng } from "../_util.ts";

Deno.test("Sophia: step = lr·sign(m)·min(|m|/(ρh), 1) after decoupled decay; no Hessian → sign step", () => {
  const opt = new Sophia({ beta1: 0.5, beta2: 0.5, rho: 0.1, weightDecay: 0 });
  const w = new Map([["w", Float32Array.of(0, 0, 0)]]);
  opt.updateHessian(new Map([["w", Float32Array.of(100, 1, 0)]])); // h = 0.5·est
  opt.update(w, new Map([["w", Float32Array.of(2, -2, 1e-3)]]), 0.1);
  // m = (1, −1, 5e-4); ρh = (5, 0.05, 0): ratios (0.2, 1 (clipped), 1)
  assertClose(w.get("w")!, [-0.02, 0.1, -0.1], { atol: 1e-6 });
  assert.equal(opt.stateBytes, 24);
});

Deno.test("Trainer --optimizer sophia: lowers the loss and differs from AdamW's trajectory", async () => {
  const cfg = tinyLlama();
  const r = rng(3);
  const ex = randomExamples(cfg.vocabSize, 4, 10, r);
  const run = async (optimizer: "sophia" | "adamw") => {
    const t = new Trainer(cfg, initParams(paramSpecs(cfg), 1), ex, {
      steps: 30,
      lr: 3e-3,
      batchSize: 4,
      optimizer,
      hessInterval: 5,
      weightDecay: 0,
    }, "node");
    const losses = (await t.run()).map((s) => s.loss);
    await t.release();
    return losses;
  };
  const s = await run("sophia"), a = await run("adamw");
  assert.ok(s.at(-1)! < s[0] * 0.8, `sophia ${s[0]} → ${s.at(-1)}`);
  assert.ok(Math.abs(s.at(-1)! - a.at(-1)!) > 1e-3);
});
