/**
 * One set of fine-tune options, three entry points: the same options given as CLI flags (`train`),
 * as an HTTP fine-tune job and to the library's `finetune` resolve to the same values, and those
 * values carry each option set's defaults (written once, in its zod schema).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseFlags } from "../../src/cli/common.ts";
import { TrainFlags } from "../../src/cli/train.ts";
import { type FinetuneJob, finetuneOptionsOf, parseJobRequest, snake } from "../../src/jobs/spec.ts";
import { type ResolvedFinetune, resolveFinetune } from "../../src/train/finetune_options.ts";
import { TrainOptionsSchema } from "../../src/train/options.ts";
import { prepareFinetune } from "../../src/train/prepare.ts";
import type { GaLoreProjector } from "../../src/optim/galore.ts";
import { ROWS, testApp, tinyModelDir } from "../routes/_app.ts";

/** Library options (camelCase), as a user would pass them to `finetune`. */
const CASES: Record<string, unknown>[] = [
  {},
  { method: "galore" },
  { method: "qgalore", rank: 4, updateGap: 7 },
  { method: "dct", targets: "q_proj,v_proj" },
  { method: "lora" },
  { method: "lora", rank: 16, loraDropout: 0.1, rslora: true, targets: "q_proj,k_proj" },
  { method: "lora", rankAllocation: "sensitivity", rankBudget: 24, calibrationRows: 4 },
  { method: "lora", baseBits: 4 }, // a union of number literals: the CLI parses the flag as a number
  { method: "lora", baseBits: 8, rankAllocation: "sensitivity", rankBudget: 24 },
  {
    method: "full",
    steps: 3,
    lr: 1e-3,
    batchSize: 2,
    gradAccum: 2,
    warmup: 1,
    schedule: "cosine",
    optimizer: "sophia",
    seed: 7,
    coreset: "colm",
    momentBits: 8,
  },
];

/** The same options as `train` flags: `--kebab-case value`, a bare flag for `true`. */
function argv(o: Record<string, unknown>): string[] {
  const flags = ["--model", "m", "--data", "d.jsonl", "--out", "o"];
  for (const [k, v] of Object.entries(o)) {
    const flag = "--" + k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
    flags.push(...(v === true ? [flag] : [flag, String(v)]));
  }
  return flags;
}

/** The same options as an HTTP fine-tune job body (snake_case fields). */
function body(o: Record<string, unknown>): Record<string, unknown> {
  const fields = Object.fromEntries(Object.entries(o).map(([k, v]) => [snake(k), v]));
  return { type: "finetune", model: "m", data: [{ text: "x" }], ...fields };
}

/** What each entry point resolves the options to, by the code each one runs. */
function resolved(
  o: Record<string, unknown>,
): { cli: ResolvedFinetune; http: ResolvedFinetune; lib: ResolvedFinetune } {
  const f = parseFlags(TrainFlags, argv(o)); // trainCommand passes the parsed flags to finetune
  const req = parseJobRequest(body(o)) as FinetuneJob; // the job runner prepares finetuneOptionsOf(req)
  return {
    cli: resolveFinetune(f.method, f),
    http: resolveFinetune(req.method, finetuneOptionsOf(req)),
    lib: resolveFinetune(o.method as string | undefined, o),
  };
}

for (const o of CASES) {
  Deno.test(`fine-tune options ${JSON.stringify(o)}: CLI flags, an HTTP job and the library resolve alike`, () => {
    const { cli, http, lib } = resolved(o);
    assert.deepEqual(cli, lib);
    assert.deepEqual(http, lib);
  });
}

Deno.test("fine-tune options: each method gets its option set's defaults, whatever the entry point", () => {
  for (const which of ["cli", "http", "lib"] as const) {
    const at = (o: Record<string, unknown>) => resolved(o)[which];
    assert.deepEqual(at({}).train, TrainOptionsSchema.parse({}), which);
    assert.equal(at({}).method, "full");
    // GaLore's rank 128 and gap 200 (the CLI and HTTP jobs used LoRA's rank 8 before), DCT's gap 1
    assert.deepEqual(at({ method: "galore" }).lowRank, {
      rank: 128,
      updateGap: 200,
      scale: 0.25,
      weightGroupSize: 256,
    });
    assert.equal(at({ method: "dct" }).lowRank!.updateGap, 1);
    assert.deepEqual(at({ method: "dct", targets: "q_proj, v_proj" }).lowRank!.targets, ["q_proj", "v_proj"]);
    // LoRA: PEFT's r 8 and dropout 0, α the rank unless given
    assert.deepEqual(at({ method: "lora" }).lora!.config, { rank: 8, alpha: 8, dropout: 0, rslora: false });
    assert.equal(at({ method: "lora", rank: 16 }).lora!.config.alpha, 16);
    assert.equal(at({ method: "lora", rank: 16, loraAlpha: 4 }).lora!.config.alpha, 4);
    assert.equal(at({ coreset: "colm" }).coreset.coresetRatio, 0.5);
  }
});

Deno.test("fine-tune options: a bad option is an error naming it, from every entry point's resolution", () => {
  assert.throws(() => resolveFinetune("lora", { rank: 5000 }), /^PosttrainError: rank: /);
  assert.throws(() => resolveFinetune("nope", {}), (e) => (e as { path?: string }).path === "method");
  assert.throws(
    () => resolveFinetune("lora", { rankAllocation: "sensitivity" }),
    (e) => (e as { path?: string }).path === "rankBudget",
  );
});

Deno.test("fine-tune options: /openapi.json shows the defaults the options resolve to", async () => {
  const t = await testApp();
  try {
    const doc = await (await t.app.request("/openapi.json")).json();
    const props = doc.components.schemas.FinetuneJob.properties as Record<
      string,
      { default?: unknown; description?: string }
    >;
    const galore = resolveFinetune("galore", {}), lora = resolveFinetune("lora", {});
    for (const [k, v] of Object.entries(galore.train)) assert.deepEqual(props[snake(k)].default, v, k);
    assert.equal(props.scale.default, galore.lowRank!.scale);
    assert.equal(props.lora_dropout.default, lora.lora!.config.dropout);
    assert.equal(props.rank_allocation.default, lora.lora!.rankAllocation);
    assert.equal(props.rank.default, undefined); // a default per method, both in the description:
    assert.match(props.rank.description!, /default 8\b.*default 128\b/);
  } finally {
    await t.close();
  }
});

Deno.test("fine-tune options: prepareFinetune runs with the resolved values (GaLore's default rank)", async () => {
  const dir = await Deno.makeTempDir();
  const modelDir = await tinyModelDir(join(dir, "m"));
  const p = await prepareFinetune({
    modelDir,
    rows: ROWS,
    method: "galore",
    backend: "node",
    options: { steps: 2 },
  });
  try {
    assert.deepEqual(p.options, resolveFinetune("galore", { steps: 2 }));
    assert.deepEqual(p.trainer.opts, p.options.train);
    const projectors = [...(p.trainer.optimizer as { projectors: Map<string, unknown> }).projectors.values()];
    assert.ok(projectors.length > 0);
    // rank 128 capped by each matrix (the tiny model is 32 wide): never LoRA's 8
    for (const q of projectors as GaLoreProjector[]) assert.equal(q.rank, Math.min(128, q.m, q.n));
    assert.ok(projectors.some((q) => (q as GaLoreProjector).rank > 8));
  } finally {
    await p.trainer.release();
  }
});
