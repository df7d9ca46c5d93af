/** Stored unlearning updates: the CLI writes a model dir and an update; the update re-applies to the original
 * exactly and still raises the forget loss after further fine-tuning, as does re-running K-FADE's steps with
 * the stored curvature. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { applyUpdateCommand, unlearnCommand } from "../../src/cli/unlearn.ts";
import { loadModel } from "../../src/models/load.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { applyDelta, loadUpdate } from "../../src/unlearn/update.ts";
import { saveModelDir } from "../../src/io/hf_dir.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { toHfConfig } from "../../src/models/config.ts";
import { cfg, forgetRows, lossOf, retainRows, weights } from "./_fixture.ts";

const jsonl = (rows: typeof forgetRows) =>
  rows.map((e) =>
    JSON.stringify({
      input_ids: Array.from(e.inputIds),
      labels: Array.from(e.inputIds).map((x, t) => (t < 3 ? -100 : x)),
    })
  )
    .join("\n") + "\n";

/** Run a command with console output captured; returns the result and stderr. */
async function quiet<T>(f: () => Promise<T>): Promise<T> {
  const err = console.error;
  console.error = () => {};
  try {
    return await f();
  } finally {
    console.error = err;
  }
}

Deno.test("unlearn --method kfade --save-update: the update re-applies, also after further fine-tuning", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const shapes = new Map(paramSpecs(cfg).map((s) => [s.name, s.shape]));
    const asDir = (w: Map<string, Float32Array>) =>
      new Map([...w].map(([k, v]) => [k, { dtype: "F32" as const, shape: shapes.get(k)!, data: v }]));
    await saveModelDir(join(dir, "base"), toHfConfig(cfg), asDir(weights()));
    await Deno.writeTextFile(join(dir, "f.jsonl"), jsonl(forgetRows));
    await Deno.writeTextFile(join(dir, "r.jsonl"), jsonl(retainRows));
    const common = [
      "--model",
      join(dir, "base"),
      "--forget",
      join(dir, "f.jsonl"),
      "--retain",
      join(dir, "r.jsonl"),
      "--backend",
      "node",
    ];
    const out = await quiet(() =>
      unlearnCommand([
        ...common,
        "--method",
        "kfade",
        "--out",
        join(dir, "unl"),
        "--kfade-steps",
        "2",
        "--fit-rows",
        "8",
        "--probe-rows",
        "4",
        "--kl-budget",
        "0.05",
        "--save-update",
        join(dir, "u.safetensors"),
        "--save-factors",
        join(dir, "k.safetensors"),
      ])
    );
    for (const k of ["forget_loss_before", "forget_loss_after", "retain_loss_before", "retain_loss_after"]) {
      assert.equal(typeof out[k], "number", k);
    }
    assert.ok((out.forget_loss_after as number) > (out.forget_loss_before as number));
    const base = await loadModel(join(dir, "base")), unl = await loadModel(join(dir, "unl"));
    // θ + U = the unlearned model (bit-exact up to f32 addition)
    const { delta, meta } = await loadUpdate(join(dir, "u.safetensors"));
    assert.equal(meta.method, "kfade");
    applyDelta(base.weights, delta);
    for (const [k, v] of unl.weights) {
      v.forEach((x, i) => assert.ok(Math.abs(x - base.weights.get(k)![i]) < 1e-6));
    }
    // fine-tune the original further on retain data, then re-apply the stored update (both readings)
    const tuned = await loadModel(join(dir, "base"));
    const trainer = new Trainer(cfg, tuned.weights, retainRows, { steps: 5, lr: 1e-3, batchSize: 4 }, "node");
    await trainer.run();
    await trainer.release();
    await saveModelDir(join(dir, "tuned"), tuned.rawConfig, asDir(tuned.weights));
    const tunedLoss = await lossOf(tuned.weights, forgetRows);
    const a = await quiet(() =>
      applyUpdateCommand([
        "--model",
        join(dir, "tuned"),
        "--update",
        join(dir, "u.safetensors"),
        "--forget",
        join(dir, "f.jsonl"),
        "--out",
        join(dir, "re1"),
        "--backend",
        "node",
      ])
    );
    assert.ok(Math.abs(a.forget_loss_before - tunedLoss) < 1e-3);
    assert.ok(
      a.forget_loss_after > tunedLoss + 0.05,
      `delta re-apply: ${tunedLoss} → ${a.forget_loss_after}`,
    );
    const b = await quiet(() =>
      applyUpdateCommand([
        "--model",
        join(dir, "tuned"),
        "--factors",
        join(dir, "k.safetensors"),
        "--forget",
        join(dir, "f.jsonl"),
        "--out",
        join(dir, "re2"),
        "--backend",
        "node",
      ])
    );
    assert.ok(
      b.forget_loss_after > tunedLoss + 0.05,
      `recompute re-apply: ${tunedLoss} → ${b.forget_loss_after}`,
    );
    const re2 = await loadModel(join(dir, "re2"));
    assert.ok(Math.abs(await lossOf(re2.weights, forgetRows) - b.forget_loss_after) < 1e-4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unlearn / apply-update reject bad flags with a clear message", async () => {
  await assert.rejects(
    () => unlearnCommand(["--model", "m", "--forget", "f", "--out", "o", "--method", "npo"]),
    /--retain/,
  );
  await assert.rejects(
    () => unlearnCommand(["--model", "m", "--forget", "f", "--out", "o", "--method", "bogus"]),
    /--method/,
  );
  await assert.rejects(() => applyUpdateCommand(["--model", "m", "--out", "o"]), /--update or --factors/);
});
