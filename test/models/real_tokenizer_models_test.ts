/**
 * Real tokenizer + chat-template files paired with tiny random weights of the matching family (Qwen3,
 * Llama 3.x with llama3 RoPE scaling, Gemma 3 text): the dir loads, chat rows are templated and masked
 * through the library (eval counts exactly the assistant tokens) and LoRA trains on them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { evaluate, finetune } from "../../src/api.ts";
import { parseConfig, toHfConfig } from "../../src/models/config.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import { saveModelDir } from "../../src/io/hf_dir.ts";
import { loadModel } from "../../src/models/load.ts";
import { encodeRows, loadTokenizer } from "../../src/data/tokenize.ts";
import { type RealTokenizer, writeRealTokenizer } from "../data/_real_tokenizers.ts";

const SHAPE = {
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 8,
  max_position_embeddings: 512,
};
const PAIRS: [RealTokenizer, Record<string, unknown>][] = [
  ["qwen3", { model_type: "qwen3", tie_word_embeddings: true }],
  ["llama3_1", {
    model_type: "llama",
    rope_theta: 500000,
    rope_scaling: {
      rope_type: "llama3",
      factor: 32,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    },
  }],
  ["gemma3", { model_type: "gemma3_text", sliding_window: 16, query_pre_attn_scalar: 8 }],
];
const ROW = {
  messages: [
    { role: "user", content: "Name a prime." },
    { role: "assistant", content: "Seven." },
    { role: "user", content: "Another?" },
    { role: "assistant", content: "Eleven." },
  ],
};

for (const [tokName, family] of PAIRS) {
  Deno.test(`${tokName} tokenizer files + tiny ${family.model_type}: loads, masks chat rows, trains with LoRA`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const vocab = await writeRealTokenizer(dir, tokName);
      const cfg = parseConfig({ ...SHAPE, ...family, vocab_size: vocab });
      const w = initParams(paramSpecs(cfg), 1);
      await saveModelDir(
        dir,
        toHfConfig(cfg),
        Object.fromEntries(
          paramSpecs(cfg).map((
            s,
          ) => [s.name, { dtype: "F32" as const, shape: s.shape, data: w.get(s.name)! }]),
        ),
      );
      const m = await loadModel(dir);
      assert.ok(m.hasTokenizer);
      assert.equal(m.config.modelType, family.model_type);
      const [ex] = encodeRows([ROW], { tokenizer: await loadTokenizer(dir), maxLength: 512 });
      const assistantTokens = ex.labels.filter((l) => l !== -100).length;
      assert.ok(
        assistantTokens >= 4 && assistantTokens < ex.inputIds.length / 2,
        `${assistantTokens} loss tokens`,
      );
      const ev = await evaluate({ model: dir, data: [ROW], backend: "node" });
      assert.equal(ev.tokens, assistantTokens);
      const r = await finetune({
        model: dir,
        data: [ROW],
        method: "lora",
        steps: 2,
        lr: 0.01,
        batchSize: 1,
        backend: "node",
        out: join(dir, "adapter"),
        log: () => {},
      });
      assert.ok(
        Number.isFinite(r.lossEnd) && Math.abs(r.lossStart - ev.loss) < 1e-3,
        `${r.lossStart} vs ${ev.loss}`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
