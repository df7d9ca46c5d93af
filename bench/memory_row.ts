/**
 * One row of `deno task bench:memory`, run in a process of its own so its peak RSS (VmHWM) is the row's:
 * loads or builds the model as the row says, runs a few optimizer steps, prints one JSON line
 * `{"row","backend","peak_rss_mb","tokens_per_s","steps"}`.
 *
 *   deno run -A bench/memory_row.ts --row default-lora|default-lora-int8|default-lora-int4|default-full|smollm-qgalore|smollm-qlora4 --backend lean
 *
 * The smollm rows build SmolLM-135M's shape with random weights one tensor at a time (quantized ones go
 * straight to codes, and on lean straight into device memory), so no full-precision copy of the model
 * ever exists, and train on random tokens B1×T128. `smollm-dir-lora-int4` is the user's path instead: a
 * SmolLM-shaped model dir on disk (BF16 safetensors, as HF ships it; written first by
 * `--row smollm-dir-write --dir D` in a process of its own) fine-tuned by `prepareFinetune` with
 * `baseBits: 4`, as `train --method lora --base-bits 4` does.
 */
import { parseArgs } from "node:util";
import { prepareFinetune } from "../src/train/prepare.ts";
import { readJsonl } from "../src/data/rows.ts";
import { initParams, normalRng } from "../src/models/params.ts";
import { paramSpecs } from "../src/models/model.ts";
import { type TrainableModel, Trainer } from "../src/train/trainer.ts";
import { int8Source, quantizedSource, QuantizedWeights, type QuantSpec } from "../src/optim/int8_weights.ts";
import { quantizedBase } from "../src/lora/setup.ts";
import { buildProjectors, lowRankTargets } from "../src/optim/lowrank.ts";
import { QGaLoreProjector } from "../src/optim/qgalore.ts";
import { isLoraParam, loraAdapter, LoraConfigSchema } from "../src/lora/lora.ts";
import type { Backend } from "../src/runtime/session.ts";
import { peakRssMb } from "../src/util/rss.ts";
import { randomTokenRows, shapeConfig } from "./shapes.ts";
import { saveModelDir } from "../src/io/hf_dir.ts";
import { f32ToBf16 } from "../src/io/safetensors.ts";
import { toHfConfig } from "../src/models/config.ts";

const { values: a } = parseArgs({
  options: {
    row: { type: "string", default: "default-lora" },
    backend: { type: "string", default: "lean" },
    steps: { type: "string", default: "4" },
    rank: { type: "string" },
    dir: { type: "string" },
  },
});
const backend = a.backend as Backend, steps = Number(a.steps);

/**
 * SmolLM-shaped random weights built tensor by tensor and chunk by chunk: `quantize` names go straight
 * to codes, float ones straight into (device) memory — no full-precision copy of the model ever exists.
 */
async function smollmWeights(quantize: ReadonlyMap<string, QuantSpec>) {
  const { config } = shapeConfig("smollm");
  const device = backend === "lean"
    ? await (await import("../src/runtime/lean/program.ts")).sharedDevice()
    : undefined;
  const qw = new QuantizedWeights();
  paramSpecs(config).forEach((s, i) => {
    const randn = normalRng(1000 + i), n = s.shape.reduce((x, y) => x * y, 1);
    const fill = (_off: number, dst: Float32Array) => {
      if (s.init === "ones" || s.init === "zeros") dst.fill(s.init === "ones" ? 1 : 0);
      else {for (let j = 0; j < dst.length; j++) {
          dst[j] = randn() * ("normal" in s.init ? s.init.normal : 0.02);
        }}
    };
    const q = quantize.get(s.name);
    if (q) {
      qw.storeFrom(s.name, n, fill, { groupSize: q.groupSize, seed: 0, stochastic: false, bits: q.bits });
      if (device) qw.adopt((x) => (device.owns(x) ? x : device.store(x)));
    } else {
      const w = device ? device.float32(n) : new Float32Array(n);
      fill(0, w);
      qw.set(s.name, w);
    }
    // V8 collects large array buffers late when little else is allocated: free this tensor's transients
    // now (the bench runs with --expose-gc), so the build phase does not pile up garbage
    (globalThis as { gc?: () => void }).gc?.();
  });
  return { config, weights: qw };
}

async function run(): Promise<Trainer> {
  if (a.row.startsWith("default-")) {
    const rows = await readJsonl("data/new_facts.train.jsonl");
    const method = a.row === "default-full" ? "full" : "lora";
    // default-lora-int8 / -int4: the same LoRA over a base quantized as it loads (`--base-bits`)
    const baseBits = a.row.endsWith("-int8") ? 8 : a.row.endsWith("-int4") ? 4 : undefined;
    const p = await prepareFinetune({
      modelDir: "models/default",
      rows,
      method,
      backend,
      options: { batchSize: 4, steps, rank: 8, lr: 1e-3, ...(baseBits ? { baseBits } : {}) },
    });
    return p.trainer;
  }
  const { config, seq } = shapeConfig("smollm");
  const examples = randomTokenRows(config.vocabSize, 1, seq);
  if (a.row === "smollm-qgalore") {
    const rank = Number(a.rank ?? 128);
    const names = new Set(lowRankTargets(config).map((t) => t.name));
    const { weights } = await smollmWeights(new Map([...names].map((n) => [n, { bits: 8, groupSize: 256 }])));
    const model: TrainableModel = {
      // the embedding (tied head) stays frozen: plain AdamW moments for it would be 2 × 113 MB
      trainable: (n) => !n.includes("embed_tokens"),
      projectors: buildProjectors(
        config,
        (m, n) => new QGaLoreProjector(m, n, { rank, updateGap: 200, scale: 0.25 }),
      ),
      int8: { source: int8Source(names, 256), groupSize: 256 },
    };
    // no global-norm clipping, as the official GaLore / Q-GaLore scripts (grad_clipping 0)
    // 8-bit moments as the official Q-GaLore (bitsandbytes AdamW8bit)
    const opts = { batchSize: 1, steps, lr: 1e-3, maxGradNorm: 0, momentBits: 8 as const };
    return new Trainer(config, weights, examples, opts, backend, model);
  }
  if (a.row === "smollm-qlora4") {
    const specs = quantizedBase(config, 4);
    const { weights } = await smollmWeights(specs);
    const lc = LoraConfigSchema.parse({
      rank: Number(a.rank ?? 8),
      alpha: 16,
      targets: ["q_proj", "v_proj"],
    });
    const lora = paramSpecs(config, loraAdapter(lc)).filter((s) => isLoraParam(s.name));
    for (const [k, v] of initParams(lora, 7)) weights.set(k, v);
    const model: TrainableModel = {
      trainable: isLoraParam,
      adapter: loraAdapter(lc, { train: true }),
      int8: { source: quantizedSource(specs), groupSize: 0 },
    };
    return new Trainer(config, weights, examples, { batchSize: 1, steps, lr: 1e-3 }, backend, model);
  }
  if (a.row === "smollm-dir-lora-int4") {
    const { config, seq } = shapeConfig("smollm");
    const rows = randomTokenRows(config.vocabSize, 1, seq).map((r) => ({ input_ids: [...r.inputIds] }));
    const p = await prepareFinetune({
      modelDir: a.dir!,
      rows,
      method: "lora",
      backend,
      options: { batchSize: 1, steps, rank: Number(a.rank ?? 8), lr: 1e-3, baseBits: 4 },
    });
    return p.trainer;
  }
  throw new Error(`--row: unknown row ${a.row}`);
}

/** A SmolLM-shaped model dir of random BF16 weights at `dir` (kept when it is there). */
async function writeSmollmDir(dir: string): Promise<void> {
  if (await Deno.stat(dir).then(() => true, () => false)) return;
  const { config } = shapeConfig("smollm");
  const tensors = new Map(
    paramSpecs(config).map((s, i) => {
      const randn = normalRng(2000 + i), n = s.shape.reduce((x, y) => x * y, 1);
      const w = new Float32Array(n);
      if (s.init === "ones" || s.init === "zeros") w.fill(s.init === "ones" ? 1 : 0);
      else for (let j = 0; j < n; j++) w[j] = randn() * ("normal" in s.init ? s.init.normal : 0.02);
      return [s.name, { dtype: "BF16" as const, shape: s.shape, data: f32ToBf16(w) }];
    }),
  );
  await saveModelDir(dir, toHfConfig(config), tensors);
}

if (a.row === "smollm-dir-write") {
  await writeSmollmDir(a.dir!);
  Deno.exit(0);
}

const trainer = await run();
let last = { tokensPerS: 0 };
const devUsage = backend === "lean"
  ? (await (await import("../src/runtime/lean/program.ts")).sharedDevice()).usage.bind(
    await (await import("../src/runtime/lean/program.ts")).sharedDevice(),
  )
  : undefined;
const phase = (what: string) => {
  if (!Deno.env.get("MEMORY_ROW_PHASES")) return;
  const u = Deno.memoryUsage(), mb = (x: number) => (x / 2 ** 20).toFixed(0);
  const dev = backend === "lean" ? ` device ${JSON.stringify(devUsage?.())}` : "";
  console.error(
    `${what}: rss ${mb(u.rss)} peak ${Math.round(peakRssMb())} heap ${mb(u.heapUsed)}/${
      mb(u.heapTotal)
    } MB${dev}`,
  );
};
phase("built");
for (let i = 0; i < steps; i++) {
  last = await trainer.step();
  phase(`step ${i + 1}`);
}
console.log(JSON.stringify({
  row: a.row,
  backend,
  peak_rss_mb: Math.round(peakRssMb()),
  tokens_per_s: Math.round(last.tokensPerS),
  steps,
}));
