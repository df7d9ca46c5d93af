/** Loading a model dir: on lean each weight goes straight into device memory, read whole or in pieces, F32 or BF16. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadModel, loadModelFor } from "../../src/models/load.ts";
import { saveModelDir } from "../../src/io/hf_dir.ts";
import { bf16ToF32, f32ToBf16 } from "../../src/io/safetensors.ts";
import { toHfConfig } from "../../src/models/config.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import { sharedDevice } from "../../src/runtime/lean/program.ts";
import { tinyLlama } from "./_tiny.ts";

const cfg = { ...tinyLlama(), vocabSize: 300, hidden: 32, ffn: 64 };

for (const dtype of ["F32", "BF16"] as const) {
  Deno.test(`loadModelFor lean (${dtype}): the host load's weights, in device memory; take reads them in pieces`, async () => {
    const dir = join(await Deno.makeTempDir(), "m");
    const w = initParams(paramSpecs(cfg), 5);
    const tensors = new Map(
      paramSpecs(cfg).map((s) => {
        const v = w.get(s.name)!;
        return [
          s.name,
          dtype === "F32"
            ? { dtype, shape: s.shape, data: v }
            : { dtype, shape: s.shape, data: f32ToBf16(v) },
        ];
      }),
    );
    await saveModelDir(dir, toHfConfig(cfg), tensors);
    const host = await loadModel(dir);
    const lean = await loadModelFor(dir, "lean");
    const device = await sharedDevice();
    for (const [name, v] of host.weights) {
      assert.ok(device.owns(lean.weights.get(name)!), `${name}: not in device memory`);
      assert.deepEqual(lean.weights.get(name), v, name);
      if (dtype === "BF16") assert.deepEqual(v, bf16ToF32(f32ToBf16(w.get(name)!)), `${name}: BF16 widening`);
    }
    // taken in pieces of 100 values (ragged last piece): the same values
    const pieces = new Map<string, Float32Array>();
    const rest = await loadModelFor(dir, "lean", {
      take: async (name, numel, read) => {
        if (!name.includes("embed_tokens")) return false;
        const out = new Float32Array(numel);
        for (let off = 0; off < numel; off += 100) {
          await read(off, out.subarray(off, Math.min(numel, off + 100)));
        }
        pieces.set(name, out);
        return true;
      },
    });
    const embed = [...pieces.keys()][0];
    assert.ok(embed && !rest.weights.has(embed), "the taken weight is not in the map");
    assert.deepEqual(pieces.get(embed), host.weights.get(embed));
  });
}
