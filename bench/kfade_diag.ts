/**
 * K-FADE diagnostics on the unlearning benchmark (`deno task eval:kfade-diag`): how good the Kronecker-factored
 * retain curvature F̂ is where K-FADE uses it, and what damping and refits do.
 * 1. quadratic model vs measured retain KL: ½η²ΔᵀF̂Δ against the mean KL on retain probe rows after stepping
 *    η·Δ, for Δ = P = (F̂ + λI)⁻¹∇L_f (K-FADE) and Δ = ∇L_f (gradient ascent), at a small step.
 * 2. one step to forget NLL `--goal` along P for damping scales `--damping` and along ∇L_f: the retain KL
 *    each direction pays for the same forget NLL (lower = better direction).
 * 3. two steps to `--goal2` with the first curvature (stale) or a refit at the new weights.
 * Usage: deno task eval:kfade-diag [--fit-rows 512] [--goal 1.5] [--goal2 1.9] [--damping 0.001,0.01,0.1,1]
 */
import { parseArgs } from "node:util";
import { loadModel } from "../src/models/load.ts";
import { encodeRows, loadTokenizer } from "../src/data/tokenize.ts";
import { toPromptRow, unlearnBenchmark } from "../src/build/unlearn_data.ts";
import { ModelRunner } from "../src/models/runner.ts";
import { addScaled, type Weights } from "../src/models/weights.ts";
import { fromLogical, type KfacEigen, toLogical } from "../src/unlearn/kfac.ts";
import { Preconditioner } from "../src/unlearn/precondition.ts";
import { fitCurvature, forgetGradient, kfadeLayers } from "../src/unlearn/kfade.ts";
import { searchStep } from "../src/unlearn/step_search.ts";
import { klBetween, rowOutputs } from "../src/eval/unlearn_metrics.ts";
import { evaluateLoss } from "../src/eval/loss.ts";

const { values: a } = parseArgs({
  options: {
    "fit-rows": { type: "string", default: "512" },
    goal: { type: "string", default: "1.5" },
    goal2: { type: "string", default: "1.9" },
    damping: { type: "string", default: "0.001,0.01,0.1,1" },
  },
});
const dir = new URL("../models/default", import.meta.url).pathname;
const m = await loadModel(dir), tok = await loadTokenizer(dir);
const b = unlearnBenchmark();
const enc = (rows: typeof b.forget) =>
  encodeRows(rows.map((r) => toPromptRow(r)), { tokenizer: tok, maxLength: 256 });
const forget = enc(b.forget), retain = enc(b.retain), fitRows = Number(a["fit-rows"]);
const probe = retain.filter((_, i) => i >= fitRows && i % 10 === 5); // retain rows the curvature never saw
const layers = kfadeLayers(m.config), names = new Set(layers.map((l) => l.weight));
const plain = new ModelRunner(m.config, "node"),
  runner = new ModelRunner(m.config, "node", (n) => names.has(n));
const w = m.weights, snapshot = new Map([...w].map(([k, v]) => [k, Float32Array.from(v)]));
const restore = () => snapshot.forEach((v, k) => w.get(k)!.set(v));
const ref = await rowOutputs(plain, w, probe, { keepDist: true });
const retainKl = async () => klBetween(ref, await rowOutputs(plain, w, probe, { keepDist: true }));
const forgetLoss = async () => (await evaluateLoss(plain, w, forget, 16)).loss;
const fit = (rows = retain.slice(0, fitRows), seed = 42) =>
  fitCurvature(m.config, w, rows, layers, { fisherSamples: 1, plainKfac: false }, { backend: "node", seed });
const direction = async (eig: KfacEigen | undefined, ds: number) => {
  const { grads } = await forgetGradient(runner, w, forget, 16);
  if (!eig) return { dir: grads, quad: NaN };
  const pre = new Preconditioner(eig, { dampingScale: ds }, "node");
  const { P, quad } = await pre.apply(toLogical(layers, grads));
  await pre.release();
  return { dir: fromLogical(layers, P), quad };
};
const norm = (d: Map<string, Float32Array>) =>
  Math.sqrt([...d.values()].reduce((s, v) => s + v.reduce((t, x) => t + x * x, 0), 0));
const step = async (d: Map<string, Float32Array>, goal: number, eta0: number) => {
  const eta = await searchStep(w as Weights, d, eta0, goal, forgetLoss, "reach");
  addScaled(w, d, eta);
  return { eta, kl: await retainKl(), forget: await forgetLoss() };
};
const eig = await fit();
const start = await forgetLoss();
console.error(`forget NLL ${start.toFixed(4)}; ${probe.length} retain probe rows`);

console.error(
  "\n| direction | step ‖Δ‖ | K-FAC model ½ΔᵀF̂Δ | measured retain KL | ratio |\n|---|---|---|---|---|",
);
for (
  const [label, e] of [["K-FADE P (λ = 0.01·mean Λ)", eig], ["gradient ascent ∇L_f", undefined]] as const
) {
  const { dir: d } = await direction(e, 0.01);
  const n = norm(d), target = 0.02; // a small step: ‖Δ‖ = 0.02 (weights have norm ≈ 100)
  const pre = new Preconditioner(eig, { dampingScale: 0.01 }, "node");
  const quad = await pre.quadForm(
    toLogical(layers, new Map([...d].map(([k, v]) => [k, v.map((x) => x / n)]))),
  );
  await pre.release();
  addScaled(w, d, target / n);
  const kl = await retainKl();
  restore();
  const model = 0.5 * target * target * quad;
  console.error(
    `| ${label} | ${target} | ${model.toExponential(2)} | ${kl.toExponential(2)} | ${
      (kl / model).toFixed(0)
    }× |`,
  );
}

console.error(`\n| direction | retain KL at forget NLL ${a.goal} |\n|---|---|`);
for (const ds of a.damping!.split(",").map(Number)) {
  const { dir: d } = await direction(eig, ds);
  const r = await step(d, Number(a.goal), 1e-4);
  console.error(`| P, λ = ${ds}·mean(Λ) | ${r.kl.toFixed(4)} |`);
  restore();
}
{
  const { dir: d } = await direction(undefined, 0);
  const r = await step(d, Number(a.goal), 0.1);
  console.error(`| ∇L_f (gradient ascent) | ${r.kl.toFixed(4)} |`);
  restore();
}

console.error(
  `\n| second step to forget NLL ${a.goal2} | retain KL after step 1 | after step 2 |\n|---|---|---|`,
);
for (const refit of [false, true]) {
  const s1 = await step((await direction(eig, 0.01)).dir, Number(a.goal), 1e-4);
  const e2 = refit ? await fit(retain.slice(0, fitRows), 43) : eig;
  const s2 = await step((await direction(e2, 0.01)).dir, Number(a.goal2), 1e-4);
  console.error(
    `| ${refit ? "refit at θ₁" : "stale (fit at θ₀)"} | ${s1.kl.toFixed(4)} | ${s2.kl.toFixed(4)} |`,
  );
  restore();
}
await plain.release();
await runner.release();
