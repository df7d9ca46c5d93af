/** K-FADE from a memorized tiny model (issue 19): the first step, taken where the forget gradient is tiny and
 * the K-FAC model is poor, keeps the retain KL within its budget; the retain correction lowers the retain KL
 * at equal forget NLL; a model at random init (eigenvalues that underflow) still unlearns. */
import assert from "node:assert/strict";
import { unlearn } from "../../src/unlearn/unlearn.ts";
import { initParams } from "../../src/models/params.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { klBetween, rowOutputs } from "../../src/eval/unlearn_metrics.ts";
import { tokenRow } from "../../src/build/unlearn_synthetic.ts";
import type { Weights } from "../../src/models/weights.ts";
import { cfg, copy, forgetRows, lossOf, retainRows } from "./_fixture.ts";
import { rng } from "../_util.ts";

/** 16 random sequences of 12 tokens, memorized by the fixture's tiny LLaMA (cached across tests). */
const r = rng(5);
const seqs = Array.from(
  { length: 16 },
  (_, i) => tokenRow(Array.from({ length: 12 }, () => Math.floor(r() * cfg.vocabSize)), 2, i),
);
const forget = seqs.slice(0, 3), retain = seqs.slice(3);
let memorized: Promise<Weights> | undefined;
function memorize(): Promise<Weights> {
  return memorized ??= (async () => {
    const w = initParams(paramSpecs(cfg), 1);
    const t = new Trainer(
      cfg,
      w,
      seqs,
      { steps: 300, lr: 1e-2, batchSize: 16, schedule: "constant" },
      "lean",
    );
    await t.run();
    await t.release();
    return w;
  })();
}

async function retainKl(a: Weights, b: Weights): Promise<number> {
  const runner = new ModelRunner(cfg, "lean");
  const kl = klBetween(
    await rowOutputs(runner, a, retain, { keepDist: true }),
    await rowOutputs(runner, b, retain, { keepDist: true }),
  );
  await runner.release();
  return kl;
}

const common = { method: "kfade" as const, fitRows: 13, probeRows: 13, correctionRows: 13 };

Deno.test("K-FADE from a memorized tiny model: the first step keeps the retain KL within its budget", async () => {
  const w0 = await memorize();
  const before = await lossOf(w0, forget);
  assert.ok(before < 0.05, `the tiny model memorized its sequences (forget NLL ${before})`);
  const target = 3, budget = 0.05;
  // the first step without a cap: reaching a third of the way in one step costs more than the budget
  const uncapped = await unlearn(cfg, copy(w0), forget, retain, {
    ...common,
    klBudget: 1e9,
    corrections: 0,
    targetForgetLoss: target,
  }, { backend: "lean" });
  assert.ok(
    uncapped.kfade!.steps[0].retainKl > budget,
    `uncapped first step: ${uncapped.kfade!.steps[0].retainKl}`,
  );
  const w = copy(w0);
  const res = await unlearn(
    cfg,
    w,
    forget,
    retain,
    { ...common, klBudget: budget, targetForgetLoss: target },
    {
      backend: "lean",
    },
  );
  const steps = res.kfade!.steps;
  assert.ok(steps[0].capped, "the budget shortened the first step");
  assert.ok(steps[0].retainKl <= budget * 1.001, `first step retain KL ${steps[0].retainKl} > ${budget}`);
  assert.ok(res.forgetLossAfter >= target * 0.97, `forget NLL ${res.forgetLossAfter} short of ${target}`);
});

Deno.test("K-FADE's retain correction lowers the retain KL to the original at the same forget NLL", async () => {
  const w0 = await memorize();
  const target = 3;
  const run = async (corrections: number) => {
    const w = copy(w0);
    const res = await unlearn(cfg, w, forget, retain, { ...common, corrections, targetForgetLoss: target }, {
      backend: "lean",
    });
    return { res, kl: await retainKl(w0, w) };
  };
  const [plain, corrected] = [await run(0), await run(2)];
  const s = corrected.res.kfade!.steps[0];
  assert.ok(s.klCorrected! < s.klToOriginal!, `step 1: ${s.klToOriginal} → ${s.klCorrected}`);
  assert.ok(Math.abs(corrected.res.forgetLossAfter - plain.res.forgetLossAfter) < 0.15 * target);
  assert.ok(corrected.kl < 0.7 * plain.kl, `retain KL ${plain.kl} without corrections, ${corrected.kl} with`);
});

Deno.test("K-FADE at random init: eigenvalues that underflow still give a positive damping", async () => {
  const w = initParams(paramSpecs(cfg), 3); // the fixture's weights() scales them; these stay tiny
  const before = await lossOf(w, forgetRows);
  const res = await unlearn(cfg, w, forgetRows, retainRows, {
    method: "kfade",
    kfadeSteps: 1,
    fitRows: 8,
    probeRows: 4,
  }, {
    backend: "lean",
  });
  for (const d of res.kfade!.damping.values()) assert.ok(d > 0 && Number.isFinite(d), `damping ${d}`);
  assert.ok(res.forgetLossAfter > before, `forget NLL ${before} → ${res.forgetLossAfter}`);
});
