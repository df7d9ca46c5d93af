/** @module `eval`: mean token NLL, perplexity and token count of a model on JSONL rows. */
import { z } from "zod";
import { ModelRunner } from "../models/runner.ts";
import { evaluateLoss } from "../eval/loss.ts";
import { CommonFlags, loadModelAndData, parseFlags, progress } from "./common.ts";

/** Flags of `eval`. */
export const EvalFlags = CommonFlags.extend({
  model: z.string().describe("HF model dir, or 'default'"),
  data: z.string().describe("JSONL rows"),
  batchSize: z.number().int().positive().max(4096).default(8).describe("rows per forward pass"),
});

/** Run `eval`; returns the stdout JSON. */
export async function evalCommand(argv: string[]): Promise<{ loss: number; ppl: number; tokens: number }> {
  const f = parseFlags(EvalFlags, argv);
  const { model, examples } = await loadModelAndData(f.model, f.data, f.truncate, f.adapter);
  progress(`eval: ${examples.length} rows, backend ${f.backend}`);
  const runner = new ModelRunner(model.config, f.backend);
  try {
    return await evaluateLoss(runner, model.weights, examples, f.batchSize);
  } finally {
    await runner.release();
  }
}
