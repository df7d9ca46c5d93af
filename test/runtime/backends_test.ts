/** The same loss-and-gradient graph agrees across onnxruntime backends. */
import { ModelRunner } from "../../src/models/runner.ts";
import { initParams } from "../../src/models/params.ts";
import type { Backend } from "../../src/runtime/backend.ts";
import { randomBatch, tinyGpt2, tinyLlama } from "../models/_tiny.ts";
import { assertClose } from "../_util.ts";

async function compare(other: Backend, rtol: number, layers = 2) {
  for (const base of [tinyGpt2(), tinyLlama()]) {
    const cfg = { ...base, layers };
    const batch = randomBatch(cfg.vocabSize, [6, 4], 11);
    const ref = new ModelRunner(cfg, "node"), alt = new ModelRunner(cfg, other);
    const w = initParams(ref.specs, 2);
    const a = await ref.lossAndGrad(w, batch), b = await alt.lossAndGrad(w, batch);
    assertClose([b.lossSum], [a.lossSum], { atol: 1e-6, rtol, label: `${cfg.arch} loss` });
    for (const [n, g] of a.grads) {
      const scale = g.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      assertClose(b.grads.get(n)!, g, { atol: rtol * scale, rtol, label: `${cfg.arch} ${n}` });
    }
    await ref.release();
    await alt.release();
  }
}

Deno.test("wasm and node backends agree on loss and every gradient to 1e-5 relative", () =>
  compare("wasm", 1e-5));

Deno.test("webgpu agrees with node where an adapter exists", async (t) => {
  const adapter = "gpu" in navigator ? await navigator.gpu.requestAdapter() : null;
  if (!adapter) {
    console.log("skipped: no WebGPU adapter on this machine");
    return;
  }
  await t.step(
    `adapter: ${adapter.info.description || adapter.info.vendor}`,
    () => compare("webgpu", 1e-4, 1),
  );
});
