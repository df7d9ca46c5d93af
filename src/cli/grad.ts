/**
 * @module `grad`: gradient of the mean token NLL over all target tokens of all rows (one batch),
 * written as safetensors keyed by the HF names of the model's weights (a tied head has no key).
 */
import { z } from "npm:zod@4.6.7";
import { makeBatch } from "../data/batch.ts";
import { ModelRunner } from "../models/runner.ts";
import { writeSafetensors } from "../io/safetensors.ts";
import { CommonFlags, loadModelAndData, parseFlags, progress } from "./common.ts";

/** Flags of `grad`. */
export const GradFlags = CommonFlags.extend({
  model: z.string().describe("HF model dir, or 'default'"),
  data: z.string().describe("JSONL rows"),
  out: z.string().describe("output .safetensors"),
});

/** Run `grad`; returns the stdout JSON. */
export async function gradCommand(argv: string[]): Promise<{ loss: number; tokens: number }> {
  const f = parseFlags(GradFlags, argv);
  const { model, examples } = await loadModelAndData(f.model, f.data, f.truncate, f.adapter);
  const batch = makeBatch(examples);
  if (batch.targetTokens === 0) throw new Error(`${f.data}: no target tokens (every label is -100)`);
  progress(`grad: ${examples.length} rows, ${batch.targetTokens} target tokens, backend ${f.backend}`);
  const runner = new ModelRunner(model.config, f.backend);
  const { lossSum, tokens, grads } = await runner.lossAndGrad(model.weights, batch, 1 / batch.targetTokens);
  await runner.release();
  const shapes = new Map(runner.specs.map((s) => [s.name, s.shape]));
  await writeSafetensors(
    f.out,
    Object.fromEntries(
      [...grads].map(([k, g]) => [k, { dtype: "F32" as const, shape: shapes.get(k)!, data: g }]),
    ),
  );
  return { loss: lossSum, tokens };
}
