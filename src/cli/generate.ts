/** @module `generate`: continue a text prompt (greedy by default; temperature, top-k, top-p). */
import { z } from "npm:zod@4.6.7";
import { generate } from "../api.ts";
import { GenerateOptionsSchema } from "../models/generate_options.ts";
import { CommonFlags, parseFlags } from "./common.ts";

/** Flags of `generate`. */
export const GenerateFlags = CommonFlags.extend({
  model: z.string().describe("HF model dir, or 'default'"),
  prompt: z.string().min(1).describe("text to continue"),
}).extend(GenerateOptionsSchema.shape);

/** Run `generate`; returns the stdout JSON. */
export async function generateCommand(argv: string[]): Promise<{ text: string }> {
  const f = parseFlags(GenerateFlags, argv);
  try {
    return await generate(f);
  } catch (e) {
    if ((e as { code?: string }).code === "no_tokenizer") {
      throw new Error(`--model ${f.model}: the model dir has no tokenizer.json`);
    }
    throw e;
  }
}
