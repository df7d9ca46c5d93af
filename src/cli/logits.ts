/** @module `logits`: the logits of each row as `logits.<row>` [T, V] float32 safetensors. */
import { z } from "npm:zod@4.6.7";
import { makeBatch } from "../data/batch.ts";
import { ModelRunner } from "../models/runner.ts";
import { writeSafetensors } from "../io/safetensors.ts";
import { CommonFlags, loadModelAndData, parseFlags, progress } from "./common.ts";

/** Flags of `logits`. */
export const LogitsFlags = CommonFlags.extend({
  model: z.string().describe("HF model dir, or 'default'"),
  data: z.string().describe("JSONL rows"),
  out: z.string().describe("output .safetensors"),
});

/** Run `logits`; returns the stdout JSON. */
export async function logitsCommand(argv: string[]): Promise<{ rows: number }> {
  const f = parseFlags(LogitsFlags, argv);
  const { model, examples } = await loadModelAndData(f.model, f.data, f.truncate, f.adapter);
  const batch = makeBatch(examples);
  progress(`logits: ${examples.length} rows, backend ${f.backend}`);
  const runner = new ModelRunner(model.config, f.backend);
  const logits = await runner.logits(model.weights, batch);
  await runner.release();
  const V = model.config.vocabSize, all = logits.data as Float32Array;
  const out: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  examples.forEach((e, r) => {
    const T = e.inputIds.length;
    out[`logits.${r}`] = {
      dtype: "F32",
      shape: [T, V],
      data: all.slice(r * batch.T * V, (r * batch.T + T) * V),
    };
  });
  await writeSafetensors(f.out, out);
  return { rows: examples.length };
}
