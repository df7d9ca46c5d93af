/**
 * Every LLaMA-family fixture trains with GaLore and then LoRA through the library (`finetune`; Phi-3's
 * targets are its fused `qkv_proj` / `gate_up_proj`), and the GaLore model with the LoRA adapter
 * merged exports to a folder that transformers.js loads offline: its logits on a right-padded batch
 * match ours, and its KV-cached greedy generation matches our uncached one (sliding windows included).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { exportModel, finetune } from "../../src/api.ts";
import { loadModelWithAdapters } from "../../src/lora/with_adapters.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import type { DecoderConfig } from "../../src/models/config.ts";
import { makeBatch } from "../../src/data/batch.ts";
import { assertClose } from "../_util.ts";
import { fixtureCases, FIXTURES } from "../models/_families.ts";

const FAMILIES = ["llama3", "qwen2", "qwen3", "mistral", "smollm3", "gemma3_text", "phi3", "phi3_longrope"];
const quiet = { log: () => {}, backend: "node" as const, batchSize: 2, steps: 6, seed: 1 };

for (const name of FAMILIES) {
  Deno.test(`${name}: GaLore and LoRA train; the merged model exports to transformers.js with matching logits`, async () => {
    const root = await Deno.makeTempDir();
    const [[a, b]] = await fixtureCases(name);
    const rows = [a, b].map((e) => ({ input_ids: [...e.inputIds] }));
    try {
      const galore = await finetune({
        ...quiet,
        model: join(FIXTURES, name),
        data: rows,
        method: "galore",
        rank: 4,
        updateGap: 3,
        lr: 0.02,
        out: join(root, "galore"),
      });
      assert.ok(galore.lossEnd < galore.lossStart, `galore ${galore.lossStart} → ${galore.lossEnd}`);
      const fused = name.startsWith("phi3");
      const lora = await finetune({
        ...quiet,
        model: join(root, "galore"),
        data: rows,
        method: "lora",
        rank: 4,
        lr: 0.02,
        targets: fused ? ["qkv_proj", "gate_up_proj"] : ["q_proj", "v_proj", "down_proj"],
        out: join(root, "lora"),
      });
      assert.ok(lora.lossEnd < lora.lossStart, `lora ${lora.lossStart} → ${lora.lossEnd}`);
      const adapter = JSON.parse(await Deno.readTextFile(join(root, "lora", "adapter_config.json")));
      assert.deepEqual(
        adapter.target_modules,
        fused ? ["qkv_proj", "gate_up_proj"] : ["q_proj", "v_proj", "down_proj"],
      );

      await exportModel({ model: join(root, "galore"), adapter: join(root, "lora"), out: join(root, "web") });
      const merged = await loadModelWithAdapters(join(root, "galore"), join(root, "lora"));
      await compareWithTransformersJs(join(root, "web"), merged.config, merged.weights, [
        a.inputIds,
        b.inputIds,
      ]);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}

async function compareWithTransformersJs(
  web: string,
  config: DecoderConfig,
  weights: Map<string, Float32Array>,
  rows: Int32Array[],
) {
  const { AutoModelForCausalLM, Tensor } = await import("@huggingface/transformers");
  const model = await AutoModelForCausalLM.from_pretrained(web, { local_files_only: true, dtype: "fp32" });
  const runner = new ModelRunner(config, "node");
  const V = config.vocabSize;
  try {
    const batch = makeBatch(rows.map((r, row) => ({ inputIds: r, labels: new Int32Array(r.length), row })));
    const shape = [batch.B, batch.T];
    const { logits } = await model({
      input_ids: new Tensor("int64", batch.inputIds, shape),
      attention_mask: new Tensor("int64", batch.attentionMask, shape),
    });
    const got = logits.data as Float32Array,
      want = (await runner.logits(weights, batch)).data as Float32Array;
    rows.forEach((r, i) => {
      const at = i * batch.T * V;
      assertClose(got.subarray(at, at + r.length * V), want.subarray(at, at + r.length * V), {
        atol: 2e-4,
        rtol: 2e-4,
        label: `${config.modelType} transformers.js logits row ${i}`,
      });
    });

    // KV-cached greedy decoding (transformers.js) vs re-running the whole prefix (ours); past the sliding
    // windows, but within LongRoPE's original context (beyond it a cache keeps the short factors; HF recomputes)
    const prompt = Array.from(rows[1].subarray(0, 4));
    const steps = config.rope.type === "longrope" ? config.rope.originalMax! - prompt.length : 8;
    const out = await model.generate({
      input_ids: new Tensor("int64", BigInt64Array.from(prompt, BigInt), [1, prompt.length]),
      attention_mask: new Tensor("int64", new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]),
      max_new_tokens: steps,
      do_sample: false,
    });
    const seq = [...prompt];
    for (let s = 0; s < steps; s++) {
      const b = makeBatch([{ inputIds: Int32Array.from(seq), labels: new Int32Array(seq.length), row: 0 }]);
      const l = ((await runner.logits(weights, b)).data as Float32Array).subarray(
        (seq.length - 1) * V,
        seq.length * V,
      );
      seq.push(l.indexOf(Math.max(...l)));
    }
    assert.deepEqual(
      (out as { tolist(): bigint[][] }).tolist()[0].map(Number),
      seq,
      `${config.modelType} generate`,
    );
  } finally {
    await runner.release();
    await model.dispose();
  }
}

Deno.test("full, Q-GaLore and DCT also train Phi-3 (fused projections) and Gemma 3", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const name of ["phi3", "gemma3_text"]) {
      const [[a, b]] = await fixtureCases(name);
      const rows = [a, b].map((e) => ({ input_ids: [...e.inputIds] }));
      for (const method of ["full", "qgalore", "dct"] as const) {
        const r = await finetune({
          ...quiet,
          model: join(FIXTURES, name),
          data: rows,
          method,
          rank: 4,
          updateGap: 3,
          lr: method === "full" ? 0.005 : 0.02,
          out: join(root, `${name}-${method}`),
        });
        assert.ok(r.lossEnd < r.lossStart, `${name} ${method}: ${r.lossStart} → ${r.lossEnd}`);
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
