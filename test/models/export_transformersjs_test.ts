/**
 * Export to a transformers.js folder: transformers.js loads it and its logits (padded batch) and
 * greedy `generate` (KV cache) match the project's own `ModelRunner` (no cache); CLI; clean failures.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { exportTransformersJs } from "../../src/models/export_transformersjs.ts";
import { exportCommand } from "../../src/cli/export.ts";
import { saveModelDir } from "../../src/io/hf_dir.ts";
import { type DecoderConfig, toHfConfig } from "../../src/models/config.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import type { Weights } from "../../src/models/weights.ts";
import { makeBatch } from "../../src/data/batch.ts";
import { TINY_BOS, TINY_EOS, writeTinyTokenizer } from "../data/_fixtures.ts";
import { tinyGpt2, tinyLlama } from "./_tiny.ts";
import { assertClose } from "../_util.ts";

const VOCAB = 270; // ≥ the tiny tokenizer's 264 ids
const PROMPTS = ["hello world the", "hi"];

/** Random weights; `scale` > 1 sharpens the logits so greedy decoding has no near-ties. */
function weightsFor(cfg: DecoderConfig, scale: number, seed = 4): Weights {
  const w = initParams(paramSpecs(cfg), seed);
  for (const a of w.values()) for (let i = 0; i < a.length; i++) if (a[i] !== 1) a[i] *= scale;
  return w;
}

async function writeModel(dir: string, cfg: DecoderConfig, w: Weights, prefix = ""): Promise<void> {
  const tensors = Object.fromEntries(
    paramSpecs(cfg).map((
      s,
    ) => [prefix + s.name, { dtype: "F32" as const, shape: s.shape, data: w.get(s.name)! }]),
  );
  await saveModelDir(dir, toHfConfig(cfg), tensors);
  await writeTinyTokenizer(dir, { addBos: cfg.arch === "llama" });
}

const ls = async (d: string) => (await Array.fromAsync(Deno.readDir(d))).map((e) => e.name).sort();

/** Greedy decoding over the project's uncached forward, stopping like transformers.js. */
async function greedyReference(
  runner: ModelRunner,
  w: Weights,
  prompts: number[][],
  steps: number,
  eos: number,
) {
  const seqs = prompts.map((p) => [...p]);
  const V = runner.config.vocabSize;
  for (let s = 0; s < steps; s++) {
    const b = makeBatch(
      seqs.map((q, row) => ({ inputIds: Int32Array.from(q), labels: new Int32Array(q.length), row })),
    );
    const logits = (await runner.logits(w, b)).data as Float32Array;
    seqs.forEach((q, r) => {
      const row = logits.subarray((r * b.T + q.length - 1) * V, (r * b.T + q.length) * V);
      const sorted = [...row].sort((x, y) => y - x);
      assert.ok(sorted[0] - sorted[1] > 1e-3, "near-tie in the reference greedy step");
      q.push(row.indexOf(sorted[0]));
    });
    if (seqs.every((q) => q.at(-1) === eos)) break;
  }
  return seqs.map((q, r) => q.slice(prompts[r].length));
}

async function checkRoundTrip(
  cfg: DecoderConfig,
  w: Weights,
  modelDir: string,
  out: string,
  override?: Weights,
) {
  const { files } = await exportTransformersJs(modelDir, out, { weights: override });
  for (const f of ["config.json", "generation_config.json", "onnx/model.onnx", "tokenizer.json"]) {
    assert.ok(files.includes(f), f);
    assert.ok((await Deno.stat(join(out, f))).isFile, f);
  }
  const gen = JSON.parse(await Deno.readTextFile(join(out, "generation_config.json")));
  assert.deepEqual(gen, {
    bos_token_id: cfg.arch === "llama" ? TINY_BOS : TINY_EOS,
    eos_token_id: TINY_EOS,
    pad_token_id: TINY_EOS,
  });

  const { AutoModelForCausalLM, AutoTokenizer, env } = await import("@huggingface/transformers");
  env.allowLocalModels = true;
  const tok = await AutoTokenizer.from_pretrained(out, { local_files_only: true });
  tok.padding_side = "left"; // decoder-only batch generation
  const model = await AutoModelForCausalLM.from_pretrained(out, { local_files_only: true, dtype: "fp32" });
  const runner = new ModelRunner(cfg, "node");
  try {
    const inputs = tok(PROMPTS, { padding: true });
    const T = inputs.input_ids.dims[1] as number;
    const ids = (inputs.input_ids.tolist() as bigint[][]).map((r) => r.map(Number));
    const mask = (inputs.attention_mask.tolist() as bigint[][]).map((r) => r.map(Number));
    const prompts = ids.map((r, b) => r.filter((_, t) => mask[b][t] === 1));
    assert.notEqual(prompts[0].length, prompts[1].length, "prompts of different lengths");

    // Logits of a left-padded batch (transformers.js) vs a right-padded one (ModelRunner), per real token.
    const { logits } = await model(inputs);
    assert.deepEqual(logits.dims, [2, T, VOCAB]);
    const got = logits.data as Float32Array;
    const b = makeBatch(
      prompts.map((p, row) => ({ inputIds: Int32Array.from(p), labels: new Int32Array(p.length), row })),
    );
    const want = (await runner.logits(w, b)).data as Float32Array;
    prompts.forEach((p, r) => {
      const pad = T - p.length;
      assertClose(
        got.subarray((r * T + pad) * VOCAB, (r + 1) * T * VOCAB),
        want.subarray(r * b.T * VOCAB, (r * b.T + p.length) * VOCAB),
        { atol: 1e-4, rtol: 1e-4, label: `${cfg.arch} logits row ${r}` },
      );
    });

    // Greedy generation with the KV cache vs re-running the full prefix each step.
    const out8 = await model.generate({ ...inputs, max_new_tokens: 8, do_sample: false });
    const seqs = ((out8 as { tolist(): bigint[][] }).tolist()).map((r) => r.map(Number));
    const ref = await greedyReference(runner, w, prompts, 8, TINY_EOS);
    seqs.forEach((s, r) => {
      assert.deepEqual(s.slice(0, T), ids[r], "prompt kept");
      assert.deepEqual(s.slice(T), ref[r], `${cfg.arch} generated ids row ${r}`);
    });
    assert.ok(ref[0].length > 1);
  } finally {
    await runner.release();
    await model.dispose();
  }
}

Deno.test("export transformersjs: tiny LLaMA (GQA) logits and greedy generate match ModelRunner", async () => {
  const root = await Deno.makeTempDir();
  try {
    const cfg = { ...tinyLlama(), vocabSize: VOCAB };
    assert.ok(cfg.kvHeads < cfg.heads);
    // The dir holds plain init weights; the export overrides them (as a fine-tune or LoRA merge would).
    await writeModel(join(root, "m"), cfg, weightsFor(cfg, 1, 7));
    const tuned = weightsFor(cfg, 20);
    await checkRoundTrip(cfg, tuned, join(root, "m"), join(root, "web"), tuned);
    const config = JSON.parse(await Deno.readTextFile(join(root, "web", "config.json")));
    assert.equal(config.num_key_value_heads, 2);
    assert.equal(config.head_dim, 4);
    assert.equal(config.eos_token_id, TINY_EOS);
    assert.deepEqual(await ls(root), ["m", "web"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("export transformersjs: tiny GPT-2 (transformer. keys) logits and greedy generate match", async () => {
  const root = await Deno.makeTempDir();
  try {
    const cfg = { ...tinyGpt2(), vocabSize: VOCAB };
    const w = weightsFor(cfg, 20);
    await writeModel(join(root, "m"), cfg, w, "transformer.");
    const prefixed = new Map([...w].map(([k, v]) => ["transformer." + k, v]));
    await checkRoundTrip({ ...cfg, prefix: "transformer." }, prefixed, join(root, "m"), join(root, "web"));
    const config = JSON.parse(await Deno.readTextFile(join(root, "web", "config.json")));
    assert.equal(config.model_type, "gpt2");
    assert.equal(config.n_head, 2);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("export CLI: --format transformersjs writes the folder, re-export replaces it", async () => {
  const root = await Deno.makeTempDir();
  try {
    const cfg = { ...tinyLlama(), vocabSize: VOCAB };
    await writeModel(join(root, "m"), cfg, weightsFor(cfg, 1));
    const argv = [
      "--model",
      join(root, "m"),
      "--format",
      "transformersjs",
      "--out",
      join(root, "out", "web"),
    ];
    const err = console.error;
    console.error = () => {};
    try {
      const r = await exportCommand(argv);
      assert.deepEqual(r.files, [
        "config.json",
        "generation_config.json",
        "onnx/model.onnx",
        "tokenizer.json",
        "tokenizer_config.json",
      ]);
      await Deno.writeTextFile(join(root, "out", "web", "special_tokens_map.json"), "{}"); // stale
      assert.deepEqual((await exportCommand(argv)).files, r.files);
      assert.deepEqual(await ls(join(root, "out", "web")), [
        "config.json",
        "generation_config.json",
        "onnx",
        "tokenizer.json",
        "tokenizer_config.json",
      ]);
      assert.deepEqual(await ls(join(root, "out")), ["web"]);
      await assert.rejects(exportCommand(["--model", "m", "--format", "gguf", "--out", "x"]), /--format/);
      await assert.rejects(exportCommand([...argv, "--adapter", "a"]), /adapter/);
    } finally {
      console.error = err;
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("export transformersjs: a failed export leaves no temp dir and no output", async () => {
  const root = await Deno.makeTempDir();
  try {
    await assert.rejects(
      exportTransformersJs(join(root, "nope"), join(root, "web")),
      /config\.json not found/,
    );
    assert.deepEqual(await ls(root), []);
    const cfg = tinyGpt2();
    await writeModel(join(root, "m"), cfg, weightsFor(cfg, 1));
    const bad = new Map([["wte.weight", new Float32Array(3)]]);
    await assert.rejects(
      exportTransformersJs(join(root, "m"), join(root, "web"), { weights: bad }),
      /wte\.weight/,
    );
    const unknown = new Map([["lm_head.weight", new Float32Array(3)]]);
    await assert.rejects(
      exportTransformersJs(join(root, "m"), join(root, "web"), { weights: unknown }),
      /not a parameter/,
    );
    await assert.rejects(exportTransformersJs(join(root, "m"), join(root, "m")), /must differ/);
    assert.deepEqual(await ls(root), ["m"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
