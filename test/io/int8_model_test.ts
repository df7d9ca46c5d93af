/**
 * INT8 model files (the Workers bundle's built-in model): codes round-trip to within half a quantization
 * step, the dequantized file is a valid F32 safetensors file read at any offset, and a model loads from
 * it through the storage (host copy and straight into a lean device) as the dequantized weights.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dequantizedFile, INT8_GROUP, Int8ModelStorage, quantizeModelFile } from "../../src/io/int8_model.ts";
import { parseSafetensors, toFloat32 } from "../../src/io/safetensors.ts";
import { MountStorage, setStorage } from "../../src/io/storage.ts";
import { dequantize, quantize } from "../../src/linalg/quant.ts";
import { loadModel, loadModelFor } from "../../src/models/load.ts";
import { tinyModelDir } from "../routes/_app.ts";

Deno.test("int8 model: codes within half a step of the weights, small tensors kept exact, ≈ ¼ of the bytes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await tinyModelDir(dir);
    const f32 = await Deno.readFile(join(dir, "model.safetensors"));
    const int8 = quantizeModelFile(f32);
    const orig = parseSafetensors(f32, "f32");
    const back = parseSafetensors(
      await dequantizedFile(int8).read(0, new Uint8Array(dequantizedFile(int8).size)),
      "deq",
    );
    assert.deepEqual([...back.keys()].sort(), [...orig.keys()].sort());
    let quantized = 0;
    for (const [k, t] of orig) {
      const x = toFloat32(t), y = toFloat32(back.get(k)!);
      assert.deepEqual(back.get(k)!.shape, t.shape);
      if (x.length < 4096) {
        assert.deepEqual(y, x, k);
        continue;
      }
      quantized += x.byteLength;
      assert.deepEqual(y, dequantize(quantize(x, { bits: 8, groupSize: INT8_GROUP })), k);
      for (let g = 0; g < x.length; g += INT8_GROUP) {
        const grp = x.subarray(g, g + INT8_GROUP);
        const step = (Math.max(...grp) - Math.min(...grp)) / 255;
        for (let i = g; i < Math.min(x.length, g + INT8_GROUP); i++) {
          assert.ok(Math.abs(x[i] - y[i]) <= step / 2 + 1e-6 + step * 0.01, `${k}[${i}]`);
        }
      }
    }
    assert.ok(quantized > 0);
    // a quantized tensor costs 1 byte + 5 bytes per group of 64 instead of 4 bytes per weight
    assert.ok(int8.length < f32.length - quantized * 0.7, `${int8.length} vs ${f32.length}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("int8 model: loads through the storage as its dequantized weights, on the host and on lean", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await tinyModelDir(dir);
    const files: Record<string, Uint8Array> = {};
    for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json"]) {
      files[f] = await Deno.readFile(join(dir, f));
    }
    const int8 = quantizeModelFile(await Deno.readFile(join(dir, "model.safetensors")));
    const want = parseSafetensors(
      await dequantizedFile(int8).read(0, new Uint8Array(dequantizedFile(int8).size)),
      "d",
    );
    const previous = setStorage(new MountStorage({ "models/q": new Int8ModelStorage(files, int8) }));
    try {
      const host = await loadModel("models/q");
      const lean = await loadModelFor("models/q", "lean");
      assert.ok(host.hasTokenizer);
      for (const [k, w] of host.weights) {
        assert.deepEqual(w, toFloat32(want.get(k)!), k);
        assert.deepEqual(lean.weights.get(k), w, k);
      }
    } finally {
      setStorage(previous);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
