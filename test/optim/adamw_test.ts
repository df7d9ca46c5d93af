/** AdamW, schedules and clipping against hand-computed PyTorch/HF semantics. */
import assert from "node:assert/strict";
import { AdamW } from "../../src/optim/adamw.ts";
import { lrAt } from "../../src/optim/schedule.ts";
import { clipGradNorm } from "../../src/optim/clip.ts";
import { assertClose } from "../_util.ts";

Deno.test("AdamW: bias-corrected steps with decoupled weight decay match torch.optim.AdamW's formula", () => {
  const opt = new AdamW({ beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
  const w = new Map([["w", Float32Array.of(1, -2)]]);
  const gs = [[0.5, -1], [0.2, 0.3], [-0.4, 0.1]];
  // reference in float64
  let ref = [1, -2];
  const m = [0, 0], v = [0, 0];
  gs.forEach((g, t) => {
    const lr = 0.01, step = t + 1;
    ref = ref.map((x, i) => {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i];
      const x1 = x * (1 - lr * 0.1);
      return x1 - (lr / (1 - 0.9 ** step)) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - 0.99 ** step) + 1e-8);
    });
    opt.update(w, new Map([["w", Float32Array.from(g)]]), lr);
  });
  assertClose(w.get("w")!, ref, { atol: 1e-6, label: "adamw" });
  assert.equal(opt.stateBytes, 16);
});

Deno.test("AdamW: the first step moves every weight by about lr (Adam's sign-like first step)", () => {
  const opt = new AdamW({ weightDecay: 0 });
  const w = new Map([["w", Float32Array.of(0, 0, 0)]]);
  opt.update(w, new Map([["w", Float32Array.of(1e-3, -5, 100)]]), 0.1);
  assertClose(w.get("w")!, [-0.1, 0.1, -0.1], { atol: 1e-4, label: "first step" });
});

Deno.test("lrAt: warm-up from 0, then linear / cosine decay to 0 and constant", () => {
  assert.equal(lrAt("linear", 1, 0, 10, 2), 0);
  assert.equal(lrAt("linear", 1, 1, 10, 2), 0.5);
  assert.equal(lrAt("linear", 1, 2, 10, 2), 1);
  assert.equal(lrAt("linear", 1, 6, 10, 2), 0.5);
  assert.ok(Math.abs(lrAt("cosine", 1, 6, 10, 2) - 0.5) < 1e-12);
  assert.ok(lrAt("cosine", 1, 9, 10, 2) < 0.05);
  assert.equal(lrAt("constant", 3, 9, 10, 2), 3);
});

Deno.test("clipGradNorm: scales to the max norm and reports the norm before", () => {
  const a = Float32Array.of(3, 0), b = Float32Array.of(0, 4);
  assert.equal(clipGradNorm([a, b], 1), 5);
  assertClose([Math.hypot(a[0], b[1])], [1], { atol: 1e-5 });
  const c = Float32Array.of(0.1);
  clipGradNorm([c], 1);
  assertClose(c, [0.1], { atol: 1e-7 });
});
