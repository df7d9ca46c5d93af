/**
 * Every method on the `lean` backend, through the library: fine-tuning (full, LoRA, GaLore, Q-GaLore,
 * DCT), unlearning (K-FADE, NPO) and coresets (CLD) run and land where onnxruntime's `node` backend
 * lands from the same seed (same data order, same initial weights).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { coreset, finetune } from "../../mod.ts";
import { unlearn as unlearnRows } from "../../src/unlearn/unlearn.ts";
import { cfg, forgetRows, retainRows, weights } from "../unlearn/_fixture.ts";
import { ROWS, tinyModelDir } from "../routes/_app.ts";

const dir = await Deno.makeTempDir();
const model = await tinyModelDir(join(dir, "m"));
const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: lean ${a} vs node ${b}`);

for (const method of ["full", "lora", "galore", "qgalore", "dct"] as const) {
  Deno.test(`lean: ${method} fine-tuning trains and matches node from the same seed`, async () => {
    const run = (backend: "lean" | "node") =>
      finetune({
        model,
        data: ROWS,
        out: join(dir, `${method}-${backend}`),
        method,
        steps: 6,
        lr: 0.02,
        batchSize: 3,
        rank: 2,
        updateGap: 3,
        backend,
      });
    const [lean, node] = [await run("lean"), await run("node")];
    assert.ok(lean.lossEnd < lean.lossStart, `${method}: ${lean.lossStart} → ${lean.lossEnd}`);
    close(lean.lossStart, node.lossStart, 1e-4, `${method} first loss`);
    // Q-GaLore's stochastic re-quantization and SVD refreshes amplify float differences a little
    close(lean.lossEnd, node.lossEnd, method === "qgalore" ? 2e-2 : 2e-3, `${method} last loss`);
  });
}

Deno.test("lean: without clipping each gradient updates its weight as it arrives, as node's step does", async () => {
  const run = (backend: "lean" | "node") =>
    finetune({
      model,
      data: ROWS,
      out: join(dir, `immediate-${backend}`),
      method: "galore",
      steps: 5,
      lr: 0.02,
      batchSize: 3,
      rank: 2,
      updateGap: 2,
      maxGradNorm: 0,
      backend,
    });
  const [lean, node] = [await run("lean"), await run("node")];
  close(lean.lossEnd, node.lossEnd, 2e-3, "last loss");
});

for (const method of ["kfade", "npo"] as const) {
  Deno.test(`lean: ${method} unlearning raises the forget loss as on node`, async () => {
    const run = async (backend: "lean" | "node") => {
      const w = weights();
      const o = {
        method,
        steps: 6,
        lr: 1e-2,
        batchSize: 4,
        seed: 1,
        fitRows: 8,
        probeRows: 4,
        klBudget: 0.05,
      };
      return await unlearnRows(cfg, w, forgetRows, retainRows, o, { backend });
    };
    const [lean, node] = [await run("lean"), await run("node")];
    assert.ok(lean.forgetLossAfter > lean.forgetLossBefore + 0.05, JSON.stringify(lean));
    close(lean.forgetLossBefore, node.forgetLossBefore, 1e-4, `${method} forget loss before`);
    close(lean.forgetLossAfter, node.forgetLossAfter, 5e-2, `${method} forget loss after`);
  });
}

Deno.test("lean: CLD ranks and scores the rows as on node", async () => {
  const data = [...ROWS, { text: "the world, the world" }, { prompt: "who?", completion: " hello world" }];
  const run = (backend: "lean" | "node") =>
    coreset({ model, method: "cld", data, val: [ROWS[1], ROWS[0]], k: 5, align: "class", backend });
  const [lean, node] = [await run("lean"), await run("node")];
  assert.deepEqual(lean.indices, node.indices);
  lean.scores.forEach((s, i) => close(s, node.scores[i], 1e-4, `CLD score ${i}`));
});

Deno.test("lean: LoRA over an INT4-quantized frozen base trains as on node and near the fp32-base run", async () => {
  const { setupLora } = await import("../../src/lora/setup.ts");
  const { Trainer } = await import("../../src/train/trainer.ts");
  const { cfg: c, weights: w0 } = await import("../unlearn/_fixture.ts");
  const rowsT = (await import("../unlearn/_fixture.ts")).retainRows;
  const run = async (backend: "lean" | "node", bits?: 4) => {
    const lora = setupLora(c, w0(), { rank: 4, targets: ["q_proj", "v_proj"] }, 3, bits);
    const t = new Trainer(c, lora.weights, rowsT, { steps: 6, lr: 5e-3, batchSize: 4 }, backend, lora.model);
    const losses = [];
    for (let i = 0; i < 6; i++) losses.push((await t.step()).loss);
    await t.release();
    return losses;
  };
  const [lean, node, fp32] = [await run("lean", 4), await run("node", 4), await run("lean")];
  lean.forEach((l, i) => close(l, node[i], 1e-3, `step ${i + 1}`));
  assert.ok(lean[5] < lean[0], `no progress: ${lean}`);
  close(lean[0], fp32[0], 0.05, "INT4 base vs fp32 base, first loss");
});
