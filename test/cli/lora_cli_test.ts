/** CLI train --method lora writes a PEFT adapter that eval / generate / export take with --adapter. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, writeModel } from "./_cli.ts";
import { writeTinyTokenizer } from "../data/_fixtures.ts";
import { tinyLlama } from "../models/_tiny.ts";

Deno.test("cli train --method lora → PEFT adapter; eval/generate/export --adapter use it", async () => {
  const dir = await Deno.makeTempDir();
  const cfg = { ...tinyLlama(), vocabSize: 270, hidden: 32, ffn: 64 };
  const m = join(dir, "m"), a = join(dir, "adapter"), data = join(dir, "d.jsonl");
  await writeModel(m, cfg);
  await writeTinyTokenizer(m);
  await Deno.writeTextFile(
    data,
    `{"prompt":"the hello","completion":" world"}\n{"text":"hello the world"}\n`,
  );
  const r = await cli([
    "train",
    "--model",
    m,
    "--data",
    data,
    "--out",
    a,
    "--method",
    "lora",
    "--rank",
    "4",
    "--lora-alpha",
    "8",
    "--targets",
    "q_proj,v_proj,down_proj",
    "--steps",
    "25",
    "--lr",
    "0.02",
    "--batch-size",
    "2",
    "--backend",
    "node",
  ]);
  assert.equal(r.code, 0, r.err);
  const j = r.json as Record<string, number>;
  assert.ok(j.loss_end < j.loss_start, JSON.stringify(j));
  // LoRA state: 2 moments × adapter params only (head dim 4: q_proj out 16, v_proj out 8)
  const adapterParams = 2 * (4 * 32 + 16 * 4) + 2 * (4 * 32 + 8 * 4) + 2 * (4 * 64 + 32 * 4);
  assert.equal(j.optimizer_state_bytes, adapterParams * 2 * 4);
  const conf = JSON.parse(await Deno.readTextFile(join(a, "adapter_config.json")));
  assert.deepEqual([conf.peft_type, conf.r, conf.lora_alpha], ["LORA", 4, 8]);
  const base = await cli(["eval", "--model", m, "--data", data, "--backend", "node"]);
  const tuned = await cli(["eval", "--model", m, "--adapter", a, "--data", data, "--backend", "node"]);
  assert.ok((tuned.json!.loss as number) < (base.json!.loss as number));
  const g = await cli([
    "generate",
    "--model",
    m,
    "--adapter",
    a,
    "--prompt",
    "the hello",
    "--max-new-tokens",
    "3",
    "--backend",
    "node",
  ]);
  assert.equal(g.code, 0, g.err);
  const e = await cli([
    "export",
    "--model",
    m,
    "--adapter",
    a,
    "--format",
    "transformersjs",
    "--out",
    join(dir, "web"),
  ]);
  assert.equal(e.code, 0, e.err);
  const sens = await cli([
    "train",
    "--model",
    m,
    "--data",
    data,
    "--out",
    a,
    "--method",
    "lora",
    "--rank-allocation",
    "sensitivity",
  ]);
  assert.match(sens.err, /rankBudget/); // sensitivity needs a budget
});
