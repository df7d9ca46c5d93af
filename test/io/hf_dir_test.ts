// Tests for src/io/hf_dir.ts: single-file and sharded round trips, re-saving over an existing dir,
// index/config errors, and that failed saves leave no temp dirs behind.

import assert from "node:assert/strict";
import { join } from "node:path";
import { loadModelDir, saveModelDir } from "../../src/io/hf_dir.ts";
import { f32ToBf16, type StTensorInput, toFloat32, writeSafetensors } from "../../src/io/safetensors.ts";

const config = { model_type: "gpt2", n_layer: 2, n_embd: 8, vocab_size: 16 };

function makeTensors(): Record<string, StTensorInput> {
  const f = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => i * s - 1);
  return {
    "wte.weight": { dtype: "F32", shape: [16, 8], data: f(128, 0.25) }, // 512 B
    "h.0.attn.c_attn.weight": { dtype: "F32", shape: [8, 24], data: f(192, 0.5) }, // 768 B
    "h.0.ln_1.weight": { dtype: "BF16", shape: [8], data: f32ToBf16(f(8, 1)) },
    "h.1.mlp.c_fc.weight": { dtype: "F32", shape: [8, 32], data: f(256, 0.125) }, // 1024 B
    "pos_ids": { dtype: "I64", shape: [4], data: BigInt64Array.of(0n, 1n, 2n, 3n) },
  };
}

async function withTmp(fn: (root: string) => Promise<void>) {
  const root = await Deno.makeTempDir();
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}
const ls = async (d: string) => (await Array.fromAsync(Deno.readDir(d))).map((e) => e.name).sort();

function assertSameWeights(
  got: Awaited<ReturnType<typeof loadModelDir>>,
  want: Record<string, StTensorInput>,
) {
  assert.deepEqual([...got.weights.keys()].sort(), Object.keys(want).sort());
  for (const [name, t] of Object.entries(want)) {
    const g = got.weights.get(name)!;
    assert.equal(g.dtype, t.dtype, name);
    assert.deepEqual(g.shape, t.shape, name);
    assert.deepEqual(g.data, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), name);
  }
}

Deno.test("single-file round trip, copying tokenizer files", async () => {
  await withTmp(async (root) => {
    const src = join(root, "src");
    await Deno.mkdir(src);
    await Deno.writeTextFile(join(src, "tokenizer.json"), '{"model":{}}');
    await Deno.writeTextFile(join(src, "generation_config.json"), "{}");
    const tensors = makeTensors();
    const out = join(root, "nested", "model");
    await saveModelDir(out, config, tensors, { copyFrom: src });
    assert.deepEqual(await ls(out), [
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "tokenizer.json",
    ]);
    assert.deepEqual(await ls(join(root, "nested")), ["model"]);
    const m = await loadModelDir(out);
    assert.deepEqual(m.config, config);
    assert.equal(m.hasTokenizer, true);
    assert.equal(m.dir, out);
    assertSameWeights(m, tensors);
    // Loaded weights (a Map of StTensor) can be saved again as-is.
    const again = join(root, "again");
    await saveModelDir(again, m.config, m.weights);
    const m2 = await loadModelDir(again);
    assert.equal(m2.hasTokenizer, false);
    assertSameWeights(m2, tensors);
    assert.deepEqual([...toFloat32(m2.weights.get("h.0.ln_1.weight")!)], [-1, 0, 1, 2, 3, 4, 5, 6]);
  });
});

Deno.test("sharded round trip writes numbered shards and an index", async () => {
  await withTmp(async (root) => {
    const tensors = makeTensors();
    const out = join(root, "sharded");
    await saveModelDir(out, config, tensors, { maxShardBytes: 1100 });
    // 512 (+768 > 1100) | 768 + 16 | 1024 (+32 > 1100) | 32
    const shards = ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors"];
    shards.push("model-00003-of-00003.safetensors");
    assert.deepEqual(await ls(out), ["config.json", ...shards, "model.safetensors.index.json"]);
    const index = JSON.parse(await Deno.readTextFile(join(out, "model.safetensors.index.json")));
    assert.equal(index.metadata.total_size, 512 + 768 + 16 + 1024 + 32);
    assert.deepEqual(index.weight_map, {
      "h.0.attn.c_attn.weight": shards[1],
      "h.0.ln_1.weight": shards[1],
      "h.1.mlp.c_fc.weight": shards[2],
      "pos_ids": shards[2],
      "wte.weight": shards[0],
    });
    assert.deepEqual(Object.keys(index.weight_map), Object.keys(index.weight_map).sort());
    const m = await loadModelDir(out);
    assert.deepEqual(m.config, config);
    assertSameWeights(m, tensors);
  });
});

Deno.test("re-saving over an existing dir replaces weights, drops stale shards, keeps other files", async () => {
  await withTmp(async (root) => {
    const out = join(root, "m");
    const tensors = makeTensors();
    await saveModelDir(out, config, tensors, { maxShardBytes: 1100 });
    await Deno.writeTextFile(join(out, "notes.txt"), "keep me");
    const small = { "wte.weight": tensors["wte.weight"] };
    await saveModelDir(out, { ...config, n_layer: 0 }, small);
    assert.deepEqual(await ls(out), ["config.json", "model.safetensors", "notes.txt"]);
    const m = await loadModelDir(out);
    assert.equal(m.config.n_layer, 0);
    assertSameWeights(m, small);
    await saveModelDir(out, config, tensors, { maxShardBytes: 1500 });
    assert.deepEqual(await ls(out), [
      "config.json",
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
      "model.safetensors.index.json",
      "notes.txt",
    ]);
    assertSameWeights(await loadModelDir(out), tensors);
    assert.deepEqual((await ls(root)).filter((n) => n.includes(".tmp-")), []);
  });
});

Deno.test("index errors: missing tensor in shard, bad shard names, missing shard", async () => {
  await withTmp(async (dir) => {
    await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config));
    await writeSafetensors(join(dir, "a.safetensors"), {
      x: { dtype: "U8", shape: [1], data: Uint8Array.of(7) },
    });
    const writeIndex = (weight_map: Record<string, string>) =>
      Deno.writeTextFile(
        join(dir, "model.safetensors.index.json"),
        JSON.stringify({ metadata: {}, weight_map }),
      );
    await writeIndex({ x: "a.safetensors" });
    assert.deepEqual([...(await loadModelDir(dir)).weights.keys()], ["x"]);
    await writeIndex({ x: "a.safetensors", ghost: "a.safetensors" });
    await assert.rejects(
      () => loadModelDir(dir),
      /tensor "ghost" is mapped to a\.safetensors but is not in that shard/,
    );
    await writeIndex({ x: "../a.safetensors" });
    await assert.rejects(
      () => loadModelDir(dir),
      /tensor "x" has invalid shard file name "\.\.\/a\.safetensors"/,
    );
    await writeIndex({ x: "sub/a.safetensors" });
    await assert.rejects(() => loadModelDir(dir), /invalid shard file name/);
    await writeIndex({ x: "b.safetensors" });
    await assert.rejects(() => loadModelDir(dir), /shard b\.safetensors not found/);
    await Deno.writeTextFile(join(dir, "model.safetensors.index.json"), '{"metadata":{}}');
    await assert.rejects(() => loadModelDir(dir), /index\.json: missing "weight_map" object/);
  });
});

Deno.test("config and weights-file errors name the file", async () => {
  await withTmp(async (dir) => {
    await assert.rejects(() => loadModelDir(dir), /config\.json not found/);
    await Deno.writeTextFile(join(dir, "config.json"), "{oops");
    await assert.rejects(() => loadModelDir(dir), /config\.json: invalid JSON/);
    await Deno.writeTextFile(join(dir, "config.json"), "[]");
    await assert.rejects(() => loadModelDir(dir), /config\.json: not a JSON object/);
    await Deno.writeTextFile(join(dir, "config.json"), "{}");
    await assert.rejects(() => loadModelDir(dir), /no model\.safetensors or model\.safetensors\.index\.json/);
    await Deno.writeFile(join(dir, "model.safetensors"), new Uint8Array(3));
    await assert.rejects(() => loadModelDir(dir), /model\.safetensors: file too short/);
  });
});

Deno.test("failed saves leave no temp dirs and no half-written target", async () => {
  await withTmp(async (root) => {
    const bad = { w: { dtype: "F32" as const, shape: [4], data: new Float32Array(3) } };
    await assert.rejects(() => saveModelDir(join(root, "new"), config, bad), /tensor "w"/);
    assert.deepEqual(await ls(root), []);
    // Existing target dir is left untouched by a failed save.
    const out = join(root, "m");
    await saveModelDir(out, config, makeTensors());
    const before = await ls(out);
    await assert.rejects(() => saveModelDir(out, { changed: true }, bad, { maxShardBytes: 1 }));
    assert.deepEqual(await ls(out), before);
    assert.deepEqual((await loadModelDir(out)).config, config);
    assert.deepEqual(await ls(root), ["m"]);
    // Target exists as a regular file.
    await Deno.writeTextFile(join(root, "file"), "x");
    await assert.rejects(() => saveModelDir(join(root, "file"), config, {}), /exists and is not a directory/);
    assert.deepEqual(await ls(root), ["file", "m"]);
  });
});
