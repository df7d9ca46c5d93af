/**
 * @module `train`: fine-tune a model on JSONL rows and write an HF model dir. Progress (step, loss,
 * lr, tokens/s, ETA) goes to stderr, as a bar on a terminal; checkpoints (`--checkpoint-dir`, every `--save-every` steps)
 * let `--resume` continue the exact trajectory. `--data-indices S.json` trains only on the rows a
 * `coreset` run selected; `--coreset colm [--coreset-ratio r]` trains each step on CoLM's coreset
 * of the drawn batch (`--batch-size` × `--grad-accum` rows; the rows' `source` fields are the sources).
 */
import { z } from "npm:zod@4.6.7";
import { TrainOptionsSchema } from "../train/options.ts";
import { finetune } from "../api.ts";
import { FINETUNE_METHODS, MethodOptionsSchema } from "../train/finetune_options.ts";
import { CoresetTrainFlags } from "../coreset/train_hooks.ts";
import { CommonFlags, parseFlags } from "./common.ts";
import { Progress } from "./progress.ts";

/** Methods of `train`. */
export const METHODS = FINETUNE_METHODS;

/** Flags of `train`. */
export const TrainFlags = CommonFlags.extend(TrainOptionsSchema.shape).extend({
  model: z.string().describe("HF model dir, or 'default'"),
  data: z.string().describe("JSONL training rows"),
  out: z.string().describe("output dir (an HF model dir for full-weight methods)"),
  method: z.enum(METHODS).default("full").describe("fine-tuning method"),
  checkpointDir: z.string().optional().describe("where to write resumable checkpoints"),
  saveEvery: z.number().int().positive().optional().describe(
    "checkpoint every N steps (needs --checkpoint-dir)",
  ),
  resume: z.boolean().default(false).describe("continue from --checkpoint-dir"),
  ...MethodOptionsSchema.shape,
  ...CoresetTrainFlags.shape,
  untilStep: z.number().int().positive().optional()
    .describe(
      "stop after this step with a checkpoint, to resume later (time-boxed chunks); no model dir is written",
    ),
});

/** Run `train`; returns the stdout JSON. */
export async function trainCommand(argv: string[]): Promise<Record<string, number>> {
  const f = parseFlags(TrainFlags, argv);
  if ((f.saveEvery || f.resume || f.untilStep) && !f.checkpointDir) {
    throw new Error("--checkpoint-dir: required by --save-every, --resume and --until-step");
  }
  if (argv.includes("--coreset-ratio") && !f.coreset) {
    throw new Error("--coreset-ratio: needs --coreset colm");
  }
  const bar = new Progress(f.steps);
  const r = await finetune({
    ...f,
    log: (msg) => bar.log(msg),
    onStep: (s) =>
      bar.step({
        step: s.step,
        loss: s.loss,
        lr: s.lr,
        gradNorm: s.gradNorm,
        tokensPerS: s.tokensPerS,
        etaS: s.etaS,
      }),
  }).finally(() => bar.done());
  return {
    loss_start: r.lossStart,
    loss_end: r.lossEnd,
    steps: r.steps,
    tokens_per_s: r.tokensPerS,
    peak_rss_mb: r.peakRssMb,
    optimizer_state_bytes: r.optimizerStateBytes,
  };
}
