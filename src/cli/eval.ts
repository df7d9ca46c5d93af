/** @module `eval`: mean token NLL, perplexity and token count of a model on JSONL rows. */
import { z } from "npm:zod@4.6.7";
import { evaluate } from "../api.ts";
import { EvalOptionsSchema } from "../eval/loss.ts";
import { CommonFlags, parseFlags, progress } from "./common.ts";

/** Flags of `eval`. */
export const EvalFlags = CommonFlags.extend({
  model: z.string().describe("HF model dir, or 'default'"),
  data: z.string().describe("JSONL rows"),
}).extend(EvalOptionsSchema.shape);

/** Run `eval`; returns the stdout JSON. */
export async function evalCommand(argv: string[]): Promise<{ loss: number; ppl: number; tokens: number }> {
  const f = parseFlags(EvalFlags, argv);
  return await evaluate({ ...f, log: progress });
}
