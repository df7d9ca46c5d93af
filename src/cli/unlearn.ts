/**
 * @module `unlearn` and `apply-update` (DESIGN.md §3):
 * `unlearn --model DIR --forget F.jsonl --retain R.jsonl --method kfade|wagle-graddiff|wagle-npo|ga|graddiff|npo
 * --out DIR2 [--save-update U.safetensors] [--save-factors K.safetensors]` writes an HF model dir and prints
 * `{"forget_loss_before", "forget_loss_after", "retain_loss_before", "retain_loss_after", …}`.
 * `apply-update --model DIR --update U.safetensors --out DIR2 [--scale s]` adds a stored update θ + s·U;
 * `apply-update --model DIR --factors K.safetensors --forget F.jsonl --out DIR2` re-runs K-FADE's steps at the
 * new weights with the stored retain curvature. Both print the forget loss before/after when --forget is given.
 */
import { z } from "npm:zod@4.6.7";
import { readJsonl } from "../data/rows.ts";
import { encodeRows, loadTokenizer } from "../data/tokenize.ts";
import type { Example } from "../data/example.ts";
import { type LoadedModel, saveModel } from "../models/load.ts";
import { ModelRunner } from "../models/runner.ts";
import { evaluateLoss } from "../eval/loss.ts";
import { UnlearnOptionsSchema } from "../unlearn/unlearn.ts";
import { unlearn } from "../api_unlearn.ts";
import { applyDelta, loadKfadeFactors, loadUpdate, reapplyKfade } from "../unlearn/update.ts";
import { CommonFlags, loadModelWithAdapters, parseFlags, progress } from "./common.ts";
import { Progress } from "./progress.ts";

/** Flags of `unlearn`. */
export const UnlearnFlags = CommonFlags.extend(UnlearnOptionsSchema.shape).extend({
  model: z.string().describe("HF model dir, or 'default'"),
  forget: z.string().describe("JSONL rows to forget"),
  retain: z.string().optional().describe("JSONL rows to keep (needed by every method but ga)"),
  out: z.string().describe("output HF model dir"),
  saveUpdate: z.string().optional().describe("also write the update θ_after − θ_before here (.safetensors)"),
  saveFactors: z.string().optional().describe(
    "kfade: also write the retain curvature for apply-update --factors",
  ),
});

/** Flags of `apply-update`. */
export const ApplyUpdateFlags = CommonFlags.extend({
  model: z.string().describe("HF model dir, or 'default' (e.g. a model fine-tuned after unlearning)"),
  out: z.string().describe("output HF model dir"),
  update: z.string().optional().describe("update file from unlearn --save-update: θ + scale·U"),
  scale: z.number().default(1).describe("multiplier of the stored update"),
  factors: z.string().optional().describe("K-FADE factors from unlearn --save-factors: recompute the steps"),
  forget: z.string().optional().describe("JSONL rows to forget (needed with --factors; else only reported)"),
});

async function rowsFor(m: LoadedModel, path: string, truncate: boolean): Promise<Example[]> {
  const rows = await readJsonl(path);
  if (rows.length === 0) throw new Error(`${path}: no rows`);
  const tokenizer = rows.some((r) => !("input_ids" in r)) && m.hasTokenizer
    ? await loadTokenizer(m.dir)
    : undefined;
  const ex = encodeRows(rows, {
    tokenizer,
    maxLength: m.config.maxPositions,
    truncate,
    vocabSize: m.config.vocabSize,
  });
  if (!ex.some((e) => e.labels.some((l) => l !== -100))) throw new Error(`${path}: no target tokens`);
  return ex;
}

/** Run `unlearn`; returns the stdout JSON. */
export async function unlearnCommand(argv: string[]): Promise<Record<string, number | string>> {
  const f = parseFlags(UnlearnFlags, argv);
  if (f.method !== "ga" && !f.retain) throw new Error(`--retain: required by --method ${f.method}`);
  if (f.saveFactors && f.method !== "kfade") throw new Error("--save-factors: only with --method kfade");
  const bar = new Progress(f.method === "kfade" ? f.kfadeSteps : f.steps);
  const r = await unlearn({
    ...f,
    // on a terminal the bar shows the steps; their log lines stay for pipes and files
    log: (msg) => (bar.tty && /^unlearn step /.test(msg) ? undefined : bar.log(msg)),
    onStep: bar.tty
      ? (p) => bar.step({ step: p.step, loss: p.loss, extra: { forget: p.forgetLoss } })
      : undefined,
  }).finally(() => bar.done());
  return {
    forget_loss_before: r.forgetLossBefore,
    forget_loss_after: r.forgetLossAfter,
    retain_loss_before: r.retainLossBefore,
    retain_loss_after: r.retainLossAfter,
    method: f.method,
    steps: r.steps,
    seconds: r.seconds,
  };
}

/** Run `apply-update`; returns the stdout JSON. */
export async function applyUpdateCommand(argv: string[]): Promise<Record<string, number>> {
  const f = parseFlags(ApplyUpdateFlags, argv);
  if (!f.update === !f.factors) throw new Error("--update or --factors: give exactly one");
  if (f.factors && !f.forget) throw new Error("--forget: required with --factors");
  const m = await loadModelWithAdapters(f.model, f.adapter);
  const forget = f.forget ? await rowsFor(m, f.forget, f.truncate) : undefined;
  const runner = new ModelRunner(m.config, f.backend);
  const lossOf = async () => forget ? (await evaluateLoss(runner, m.weights, forget, 16)).loss : NaN;
  const before = await lossOf();
  let tensors = 0;
  if (f.update) {
    const { delta, meta } = await loadUpdate(f.update);
    applyDelta(m.weights, delta, f.scale);
    tensors = delta.size;
    progress(`apply-update: ${tensors} tensors of a ${meta.method ?? "?"} update, scale ${f.scale}`);
  } else {
    const factors = await loadKfadeFactors(f.factors!);
    tensors = factors.eig.layers.length;
    await reapplyKfade(m.config, m.weights, forget!, factors, { backend: f.backend, log: progress });
  }
  const after = await lossOf();
  await runner.release();
  await saveModel(f.out, m);
  return forget ? { tensors, forget_loss_before: before, forget_loss_after: after } : { tensors };
}
