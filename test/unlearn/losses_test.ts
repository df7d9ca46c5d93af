/** Unlearning loss graphs: GA and retain NLL against the model's own gradient, NPO's per-sequence weights,
 * the KL term's value and directional derivative, and a stable log-sigmoid. */
import assert from "node:assert/strict";
import { makeBatch } from "../../src/data/batch.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import { input } from "../../src/graph/ops.ts";
import { composedLoss, logSigmoid, LossRunner, LossSpecSchema } from "../../src/unlearn/losses.ts";
import { klBetween, rowOutputs } from "../../src/eval/unlearn_metrics.ts";
import { assertClose, rng, runGraph } from "../_util.ts";
import { cfg, copy, forgetRows, retainRows, weights } from "./_fixture.ts";

const fb = makeBatch(forgetRows), rb = makeBatch(retainRows.slice(0, 6));

Deno.test("GA and GradDiff terms are ∓ the mean-NLL gradients", async () => {
  const w = weights(), runner = new LossRunner(cfg, "node"), plain = new ModelRunner(cfg, "node");
  const spec = LossSpecSchema.parse({ forget: "ga", retain: "nll", alpha: 0.5 });
  const r = await composedLoss(runner, spec, w, w, fb, rb, () => Promise.reject(new Error("unused")));
  const gf = await plain.lossAndGrad(w, fb), gr = await plain.lossAndGrad(w, rb);
  for (const [k, g] of r.grads) {
    const want = gf.grads.get(k)!.map((x, i) => -x + 0.5 * gr.grads.get(k)![i]);
    assertClose(g, want, { atol: 1e-6, rtol: 1e-4, label: k });
  }
  assert.ok(Math.abs(r.loss - (-gf.lossSum + 0.5 * gr.lossSum)) < 1e-4);
  await runner.release();
  await plain.release();
});

Deno.test("NPO weighs each sequence's gradient by −(2/B)·σ(β(ref_b − ℓ_b))·γ", async () => {
  const ref = weights(), w = copy(ref);
  for (const v of w.values()) v.forEach((x, i) => (v[i] = x * 1.15)); // θ ≠ ref: the weights differ per row
  const runner = new LossRunner(cfg, "node"), plain = new ModelRunner(cfg, "node");
  const beta = 0.5, gamma = 2;
  const refSeq = (await runner.seqNll(ref, fb)).sum;
  const r = await runner.npo(w, fb, refSeq, beta, gamma);
  const want = new Map<string, Float32Array>();
  let loss = 0;
  for (let b = 0; b < fb.B; b++) {
    const one = makeBatch([forgetRows[b]]);
    const g = await plain.lossAndGrad(w, one, 1);
    const x = beta * (g.lossSum - refSeq[b]);
    loss += (-2 / beta) * gamma * Math.log(1 / (1 + Math.exp(-x))) / fb.B;
    const wb = (-2 / fb.B) * gamma / (1 + Math.exp(x)); // d/dℓ of −(2γ/βB) logσ(β(ℓ − ref))
    for (const [k, gk] of g.grads) {
      const a = want.get(k) ?? new Float32Array(gk.length);
      for (let i = 0; i < a.length; i++) a[i] += wb * gk[i];
      want.set(k, a);
    }
  }
  assert.ok(Math.abs(r.loss - loss) < 1e-3 * Math.abs(loss), `${r.loss} vs ${loss}`);
  for (const [k, g] of r.grads) assertClose(g, want.get(k)!, { atol: 1e-6, rtol: 1e-3, label: k });
  await runner.release();
  await plain.release();
});

Deno.test("retain KL term: 0 at the reference, the mean KL(p_ref‖p_θ) elsewhere, and its gradient", async () => {
  const ref = weights(), w = copy(ref);
  const runner = new LossRunner(cfg, "node"), plain = new ModelRunner(cfg, "node");
  const refLogits = (await plain.logits(ref, rb)).data as Float32Array;
  const scale = 1 / rb.targetTokens;
  const zero = await runner.kl(ref, rb, refLogits, scale);
  assert.ok(Math.abs(zero.loss) < 1e-5);
  for (const g of zero.grads.values()) assert.ok(g.every((x) => Math.abs(x) < 1e-5));
  const r = rng(4);
  const dir = new Map([...w].map(([k, v]) => [k, Float32Array.from(v, () => r() - 0.5)]));
  const at = (s: number) => {
    const x = copy(ref);
    for (const [k, d] of dir) x.get(k)!.forEach((v, i, a) => (a[i] = v + s * d[i]));
    return x;
  };
  const w1 = at(0.05);
  const res = await runner.kl(w1, rb, refLogits, scale);
  // value: Σ over target tokens of KL, / tokens (a token-weighted mean)
  const p = await rowOutputs(plain, ref, retainRows.slice(0, 6), { keepDist: true });
  const q = await rowOutputs(plain, w1, retainRows.slice(0, 6), { keepDist: true });
  const perRow = p.tokens.every((t) => t === p.tokens[0]); // equal lengths: token mean = row mean
  if (perRow) assert.ok(Math.abs(res.loss - klBetween(p, q)) < 1e-4, `${res.loss} vs ${klBetween(p, q)}`);
  // directional derivative by central differences
  const eps = 1e-3;
  const lp = (await runner.kl(at(0.05 + eps), rb, refLogits, scale)).loss;
  const lm = (await runner.kl(at(0.05 - eps), rb, refLogits, scale)).loss;
  let dot = 0;
  for (const [k, g] of res.grads) g.forEach((x, i) => (dot += x * dir.get(k)![i]));
  assert.ok(
    Math.abs((lp - lm) / (2 * eps) - dot) < 2e-2 * Math.abs(dot) + 1e-4,
    `${(lp - lm) / (2 * eps)} vs ${dot}`,
  );
  await runner.release();
  await plain.release();
});

Deno.test("logSigmoid is finite and exact at extreme arguments", async () => {
  const x = input("x", "float32", [5]);
  const xs = Float32Array.of(-200, -5, 0, 5, 200);
  const res = await runGraph({ y: logSigmoid(x) }, { x: { dtype: "float32", shape: [5], data: xs } });
  const want = Array.from(xs, (v) => (v < 0 ? v - Math.log1p(Math.exp(v)) : -Math.log1p(Math.exp(-v))));
  assertClose(res.y.data as Float32Array, want, { atol: 1e-5, rtol: 1e-5, label: "logσ" });
});
