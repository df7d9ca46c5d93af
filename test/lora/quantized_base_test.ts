/**
 * LoRA over a quantized base (`baseBits`, QLoRA-style) from the fine-tune setup: the base is quantized as
 * it loads (no float copy of a quantized weight is kept; on lean the codes live in the device's memory),
 * the adapter trains beside the codes and is what gets saved.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { prepareFinetune, saveTrained } from "../../src/train/prepare.ts";
import { feedForm, QuantizedWeights } from "../../src/optim/int8_weights.ts";
import { loadQuantizedBase } from "../../src/lora/setup.ts";
import { loadCheckpoint, saveCheckpoint } from "../../src/train/checkpoint.ts";
import { sharedDevice } from "../../src/runtime/lean/program.ts";
import { parseSafetensors, toFloat32 } from "../../src/io/safetensors.ts";
import { ROWS, tinyModelDir } from "../routes/_app.ts";
import { writeModel } from "../cli/_cli.ts";
import { tinyLlama } from "../models/_tiny.ts";

const losses = async (p: Awaited<ReturnType<typeof prepareFinetune>>, n: number) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await p.trainer.step()).loss);
  return out;
};

for (const backend of ["lean", "node"] as const) {
  Deno.test(`LoRA over an INT8 / INT4 base (${backend}): quantized as it loads, the adapter trains and is saved`, async () => {
    const tmp = await Deno.makeTempDir();
    const dir = await tinyModelDir(join(tmp, "m"));
    const options = { steps: 4, batchSize: 2, lr: 0.02, rank: 4 };
    const fp = await prepareFinetune({ modelDir: dir, rows: ROWS, method: "lora", backend, options });
    const ref = await losses(fp, 4);
    await fp.trainer.release();
    for (const baseBits of [8, 4] as const) {
      const p = await prepareFinetune({
        modelDir: dir,
        rows: ROWS,
        method: "lora",
        backend,
        options: { ...options, baseBits },
      });
      const w = p.trainer.weights;
      assert.ok(w instanceof QuantizedWeights);
      // every attention / MLP linear and the embedding, and no float copy of them
      assert.equal(w.codes.size, 2 * 7 + 1);
      for (const [name, q] of w.codes) {
        assert.equal(q.bits, name.includes("embed_tokens") ? 8 : baseBits, name);
        assert.ok(!p.model.weights.has(name), `${name}: a float copy was kept`);
        if (backend === "lean") {
          assert.ok((await sharedDevice()).owns(q.data), `${name}: codes off the device`);
        }
      }
      const got = await losses(p, 4);
      // the same run over a slightly different base: close to the float base's losses, not equal
      assert.notDeepEqual(got, ref);
      got.forEach((l, i) =>
        assert.ok(Math.abs(l - ref[i]) < 0.05 * ref[i], `step ${i + 1}: ${l} vs ${ref[i]}`)
      );
      assert.ok(got[3] < got[0], `the loss falls: ${got}`);
      const out = join(tmp, `out${baseBits}`);
      await saveTrained(out, p, "tiny");
      const st = parseSafetensors(await Deno.readFile(join(out, "adapter_model.safetensors")));
      const b = [...st].filter(([k]) => k.includes("lora_B")).flatMap(([, t]) => [...toFloat32(t)]);
      assert.ok(
        b.length > 0 && b.some((x) => x !== 0),
        "the saved adapter is the trained one (B starts at 0)",
      );
      await p.trainer.release();
    }
  });
}

Deno.test("loadQuantizedBase: lean's in-device quantization, a chunk at a time, gives the host path's codes, bit for bit", async () => {
  // an embedding of 4100 × 32 values: two whole 65,536-value chunks and a ragged one
  const dir = join(await Deno.makeTempDir(), "m");
  await writeModel(dir, { ...tinyLlama(), vocabSize: 4100, hidden: 32, ffn: 64 });
  for (const bits of [8, 4] as const) {
    const lean = (await loadQuantizedBase(dir, "lean", bits)).base,
      host = (await loadQuantizedBase(dir, "node", bits)).base;
    assert.deepEqual([...lean.codes.keys()].sort(), [...host.codes.keys()].sort());
    for (const [name, q] of host.codes) {
      const l = lean.codes.get(name)!;
      assert.deepEqual(feedForm(l), feedForm(q), `${name}: codes`);
      assert.deepEqual(l.scales, q.scales, `${name}: scales`);
      assert.deepEqual(l.zeros, q.zeros, `${name}: zeros`);
    }
    assert.deepEqual([...lean.keys()].sort(), [...host.keys()].sort(), "the float weights (norms)");
  }
});

Deno.test("LoRA over a quantized base: a checkpoint holds the adapter, not the frozen codes, and resumes exactly", async () => {
  const tmp = await Deno.makeTempDir();
  const dir = await tinyModelDir(join(tmp, "m"));
  const make = () =>
    prepareFinetune({
      modelDir: dir,
      rows: ROWS,
      method: "lora",
      backend: "lean",
      options: { steps: 4, batchSize: 2, lr: 0.02, rank: 4, baseBits: 4 },
    });
  const whole = await make();
  const want = await losses(whole, 4);
  await whole.trainer.release();
  const first = await make();
  await losses(first, 2);
  const ck = join(tmp, "ck");
  await saveCheckpoint(ck, first.trainer);
  await first.trainer.release();
  const names = [...parseSafetensors(await Deno.readFile(join(ck, "weights.safetensors"))).keys()];
  assert.ok(names.length > 0 && names.every((n) => n.includes("lora_")), `checkpoint weights: ${names}`);
  const resumed = await make();
  await loadCheckpoint(ck, resumed.trainer);
  assert.deepEqual(await losses(resumed, 2), want.slice(2));
  await resumed.trainer.release();
});
