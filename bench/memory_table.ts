/**
 * `deno task bench:memory`: peak RSS (VmHWM) of the whole process per row and backend, each row run in a
 * fresh process (bench/memory_row.ts), beside the `plan` of the same run and the target; prints a
 * Markdown table and one JSON line.
 *
 *   deno task bench:memory [--rows default-lora,default-lora-int8,default-lora-int4,default-full,
 *                                  smollm-qgalore,smollm-qlora4] [--backends lean,wasm,node] [--steps 4]
 *
 * Rows: the built-in model on data/new_facts.train.jsonl (text rows: the tokenizer counts) — LoRA r8 over
 * the float base and over an INT8 / INT4 base quantized as it loads (`--base-bits`), and full AdamW, at
 * batch 4; SmolLM-135M's shape at B1×T128 — Q-GaLore (INT8 weights, rank 128, 8-bit moments, no clipping
 * as the official scripts, frozen embedding) and LoRA r8 over an INT4 base (INT8 embedding), built in
 * memory (smollm-qlora4) and, as a user runs it, from a BF16 model dir on disk through `--base-bits 4`
 * (smollm-dir-lora-int4; the dir, 270 MB, is written once to $TMPDIR/posttrain-bench-smollm-bf16). `wasm` runs onnxruntime-web at one thread. Lean rows run with `--v8-flags=
 * --max-semi-space-size=1` (a young generation of 1 MB: what an edge isolate's budget calls for).
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { type PlanRequest, planRun } from "../src/train/plan.ts";
import { loadModelFor } from "../src/models/load.ts";
import { shapeConfig } from "./shapes.ts";
import type { Backend } from "../src/runtime/backend.ts";

const { values: a } = parseArgs({
  options: {
    rows: {
      type: "string",
      default:
        "default-lora,default-lora-int8,default-lora-int4,default-full,smollm-qgalore,smollm-qlora4,smollm-dir-lora-int4",
    },
    backends: { type: "string", default: "lean,wasm,node" },
    steps: { type: "string", default: "4" },
  },
});

const TARGET_MB: Record<string, number> = {
  "default-lora": 100,
  "default-lora-int8": 100,
  "default-lora-int4": 100,
  "default-full": 200,
  "smollm-qgalore": 512,
  "smollm-qlora4": 256,
  "smollm-dir-lora-int4": 256,
};

/** The plan request of a row (the same run memory_row.ts makes). */
async function planOf(row: string, backend: Backend): Promise<PlanRequest> {
  if (row.startsWith("default")) {
    const { config } = await loadModelFor("models/default", "node");
    // the longest row of data/new_facts.train.jsonl, padded as lean pads (steps of 16)
    const baseBits = row.endsWith("-int8") ? 8 : row.endsWith("-int4") ? 4 : undefined;
    return {
      config,
      method: row === "default-full" ? "full" : "lora",
      batchSize: 4,
      seqLen: 80,
      backend,
      text: true,
      ...(baseBits ? { baseBits: baseBits as 4 | 8 } : {}),
    };
  }
  const { config } = shapeConfig("smollm");
  return row === "smollm-qgalore"
    ? {
      config,
      method: "qgalore",
      batchSize: 1,
      seqLen: 128,
      backend,
      momentBits: 8,
      frozen: ["embed_tokens"],
    }
    : { config, method: "lora", batchSize: 1, seqLen: 128, backend, baseBits: 4 }; // both LoRA-over-INT4 rows
}

/** The SmolLM-shaped BF16 model dir of the smollm-dir rows, written once by a process of its own. */
const smollmDir = join(Deno.env.get("TMPDIR") ?? "/tmp", "posttrain-bench-smollm-bf16");
if (a.rows!.split(",").some((r) => r.startsWith("smollm-dir"))) {
  const w = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bench/memory_row.ts", "--row", "smollm-dir-write", "--dir", smollmDir],
    stderr: "inherit",
  }).output();
  if (!w.success) throw new Error(`writing ${smollmDir} failed`);
}

const results: Record<string, unknown>[] = [];
console.log("| row | backend | peak RSS MB | plan MB | plan / peak | target MB | tokens/s |");
console.log("| --- | ------- | ----------- | ------- | ----------- | --------- | -------- |");
for (const row of a.rows!.split(",")) {
  for (const backend of a.backends!.split(",") as Backend[]) {
    const flags = backend === "lean"
      ? ["--v8-flags=--expose-gc,--max-semi-space-size=1"]
      : ["--v8-flags=--expose-gc"];
    const env = backend === "wasm" ? { POSTTRAIN_WASM_THREADS: "1" } : undefined;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        ...flags,
        "bench/memory_row.ts",
        "--row",
        row,
        "--backend",
        backend,
        "--steps",
        a.steps!,
        "--dir",
        smollmDir,
      ],
      stdout: "piped",
      stderr: "inherit",
      env,
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
    if (!out.success || !text.startsWith("{")) {
      console.log(`| ${row} | ${backend} | failed (exit ${out.code}) | | | | |`);
      continue;
    }
    const r = JSON.parse(text);
    const plan = await planRun(await planOf(row, backend));
    const planMb = plan.total_bytes / 2 ** 20;
    const ratio = planMb / r.peak_rss_mb;
    results.push({ ...r, plan_mb: Math.round(planMb), plan_exact: plan.exact, target_mb: TARGET_MB[row] });
    console.log(
      `| ${row} | ${backend} | ${r.peak_rss_mb} | ${Math.round(planMb)}${plan.exact ? "" : " (est.)"} | ${
        ratio.toFixed(2)
      } | ${TARGET_MB[row]} | ${r.tokens_per_s} |`,
    );
  }
}
console.log(JSON.stringify(results));
