/** Every unlearning method raises the forget loss of a tiny model; each does what distinguishes it from plain
 * gradient ascent / fine-tuning: GradDiff keeps retain loss lower, NPO follows its own weights, WAGLE changes
 * only masked weights, K-FADE steps along the retain-preconditioned direction within its KL budget. */
import assert from "node:assert/strict";
import { unlearn } from "../../src/unlearn/unlearn.ts";
import { globalMask, maskDensity, wagleScores } from "../../src/unlearn/wagle.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import { makeBatch } from "../../src/data/batch.ts";
import { toLogical } from "../../src/unlearn/kfac.ts";
import { Preconditioner } from "../../src/unlearn/precondition.ts";
import { forgetGradient, kfadeLayers } from "../../src/unlearn/kfade.ts";
import { cfg, copy, forgetRows, lossOf, retainRows, weights } from "./_fixture.ts";

const fast = { steps: 6, lr: 1e-2, batchSize: 4, seed: 1 };

for (const method of ["ga", "graddiff", "npo", "wagle-graddiff", "wagle-npo", "kfade"] as const) {
  Deno.test(`${method} raises the forget loss of a tiny model`, async () => {
    const w = weights();
    const before = await lossOf(w, forgetRows);
    const r = await unlearn(cfg, w, forgetRows, retainRows, {
      method,
      ...fast,
      fitRows: 8,
      probeRows: 4,
      klBudget: 0.05,
    }, {
      backend: "node",
    });
    assert.ok(Math.abs(r.forgetLossBefore - before) < 1e-4);
    assert.ok(r.forgetLossAfter > before + 0.05, `${method}: forget loss ${before} → ${r.forgetLossAfter}`);
    assert.ok(Math.abs(r.forgetLossAfter - await lossOf(w, forgetRows)) < 1e-4);
    assert.ok(r.steps > 0);
  });
}

for (const method of ["graddiff", "kfade"] as const) {
  Deno.test(`${method}: onStep sees every step; an aborted signal stops the run before its next step`, async () => {
    const seen: number[] = [];
    const r = await unlearn(cfg, weights(), forgetRows, retainRows, {
      method,
      ...fast,
      fitRows: 8,
      probeRows: 4,
    }, {
      backend: "node",
      onStep: (p) => {
        assert.ok(Number.isFinite(p.forgetLoss));
        seen.push(p.step);
      },
    });
    assert.deepEqual(seen, Array.from({ length: r.steps }, (_, i) => i + 1));
    const c = new AbortController();
    await assert.rejects(
      unlearn(cfg, weights(), forgetRows, retainRows, { method, ...fast, fitRows: 8, probeRows: 4 }, {
        backend: "node",
        signal: c.signal,
        onStep: (p) => p.step === 1 && c.abort(new Error("stop here")),
      }),
      /stop here/,
    );
  });
}

Deno.test("GradDiff's retain term keeps the retain loss below plain gradient ascent's", async () => {
  const ga = weights(), gd = weights();
  const o = { ...fast, steps: 10 };
  await unlearn(cfg, ga, forgetRows, retainRows, { method: "ga", ...o }, { backend: "node" });
  await unlearn(cfg, gd, forgetRows, retainRows, { method: "graddiff", ...o, alpha: 2 }, { backend: "node" });
  assert.ok(await lossOf(gd, retainRows) < await lossOf(ga, retainRows) - 0.01);
  // and the KL retain term keeps retain outputs closer to the original than no term
  const kl = weights();
  await unlearn(cfg, kl, forgetRows, retainRows, { method: "ga", retainLoss: "kl", alpha: 2, ...o }, {
    backend: "node",
  });
  assert.ok(await lossOf(kl, retainRows) < await lossOf(ga, retainRows));
});

Deno.test("NPO's update differs from gradient ascent's at the same learning rate", async () => {
  const a = weights(), b = weights();
  await unlearn(cfg, a, forgetRows, retainRows, { method: "npo", ...fast, steps: 4, retainLoss: "none" }, {
    backend: "node",
  });
  await unlearn(cfg, b, forgetRows, retainRows, { method: "ga", ...fast, steps: 4 }, { backend: "node" });
  let diff = 0;
  for (const [k, v] of a) v.forEach((x, i) => (diff = Math.max(diff, Math.abs(x - b.get(k)![i]))));
  assert.ok(diff > 1e-4, `NPO and GA gave the same weights (max diff ${diff})`);
});

Deno.test("WAGLE: attribution |(θ − g_r/γ)·g_f|, a global top-ratio mask, and only masked weights change", async () => {
  const w = weights(), orig = copy(w);
  const scores = await wagleScores(
    cfg,
    w,
    forgetRows,
    retainRows,
    { wagleGamma: 1e-3, batchSize: 4 },
    "node",
  );
  // the score by hand for one tensor
  const runner = new ModelRunner(cfg, "node");
  const gsum = async (rows: typeof forgetRows) => {
    const acc = new Map<string, Float32Array>();
    for (let i = 0; i < rows.length; i += 4) {
      const b = makeBatch(rows.slice(i, i + 4));
      for (const [k, g] of (await runner.lossAndGrad(w, b)).grads) {
        const a = acc.get(k) ?? new Float32Array(g.length);
        g.forEach((x, j) => (a[j] += x));
        acc.set(k, a);
      }
    }
    return acc;
  };
  const gf = await gsum(forgetRows), gr = await gsum(retainRows);
  await runner.release();
  const k = "model.layers.1.mlp.up_proj.weight";
  const want = w.get(k)!.map((t, i) => Math.abs((t - gr.get(k)![i] / 1e-3) * gf.get(k)![i]));
  want.forEach((x, i) => assert.ok(Math.abs(scores.get(k)![i] - x) <= 1e-4 * x + 1e-7));
  const mask = globalMask(scores, 0.3);
  assert.ok(Math.abs(maskDensity(mask) - 0.3) < 1e-3);
  // WAGLE-GradDiff with weight decay: masked-out weights stay bit-identical, some masked-in ones move
  await unlearn(cfg, w, forgetRows, retainRows, {
    method: "wagle-graddiff",
    ...fast,
    maskRatio: 0.3,
    wagleGamma: 1e-3,
    weightDecay: 0.1,
  }, { backend: "node" });
  let moved = 0, frozenMoved = 0;
  for (const [name, m] of mask) {
    const a = w.get(name)!, b = orig.get(name)!;
    for (let i = 0; i < m.length; i++) {
      if (a[i] !== b[i]) m[i] ? moved++ : frozenMoved++;
    }
  }
  assert.equal(frozenMoved, 0, "a weight outside the WAGLE mask changed");
  assert.ok(moved > 100, `only ${moved} masked weights moved`);
});

Deno.test("K-FADE steps along (F_r + λI)⁻¹∇L_f, not ∇L_f, touches only linear layers, and stays in its KL budget", async () => {
  const w = weights(), orig = copy(w);
  const r = await unlearn(cfg, w, forgetRows, retainRows, {
    method: "kfade",
    kfadeSteps: 1,
    fitRows: 8,
    probeRows: 4,
    klBudget: 0.02,
    corrections: 0,
  }, { backend: "node" });
  const kf = r.kfade!;
  assert.equal(kf.steps.length, 1);
  assert.ok(kf.steps[0].retainKl <= 0.02 + 1e-6, `retain KL ${kf.steps[0].retainKl}`);
  const layers = kfadeLayers(cfg);
  for (const [name, d] of r.update) {
    const linear = layers.some((l) => l.weight === name);
    if (!linear) assert.ok(d.every((x) => x === 0), `${name} changed`);
  }
  // the update is parallel to P = (F + λI)⁻¹ g at the original weights and not to g
  const runner = new ModelRunner(cfg, "node", (n) => layers.some((l) => l.weight === n));
  const { grads } = await forgetGradient(runner, orig, forgetRows, 16);
  await runner.release();
  const pre = new Preconditioner(kf.eig, { perLayer: kf.damping }, "node");
  const { P } = await pre.apply(toLogical(layers, grads));
  await pre.release();
  const U = toLogical(layers, r.update), G = toLogical(layers, grads);
  const cos = (a: Map<string, Float32Array>, b: Map<string, Float32Array>) => {
    let ab = 0, aa = 0, bb = 0;
    for (const [k, x] of a) {
      x.forEach((v, i) => (ab += v * b.get(k)![i], aa += v * v, bb += b.get(k)![i] ** 2));
    }
    return ab / Math.sqrt(aa * bb);
  };
  assert.ok(cos(U, P) > 0.999, `cos(U, P) = ${cos(U, P)}`);
  assert.ok(cos(U, G) < 0.95, `cos(U, g) = ${cos(U, G)}: K-FADE looks like plain gradient ascent`);
});

Deno.test("K-FADE refits the curvature at the current weights between steps (unless --no-refit)", async () => {
  const run = async (noRefit: boolean) => {
    const w = weights();
    const o = { method: "kfade" as const, kfadeSteps: 2, fitRows: 8, probeRows: 4, klBudget: 0.05, noRefit };
    return (await unlearn(cfg, w, forgetRows, retainRows, o, { backend: "node" })).kfade!.steps;
  };
  const [a, b] = [await run(false), await run(true)];
  assert.equal(a.length, 2);
  assert.ok(Math.abs(a[0].eta - b[0].eta) < 1e-12 * a[0].eta, "the first step does not depend on refits");
  assert.ok(Math.abs(a[1].eta - b[1].eta) > 1e-6 * b[1].eta, "a refit changes the second step");
});
