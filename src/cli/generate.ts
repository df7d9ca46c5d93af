/** @module `generate`: continue a text prompt (greedy by default; temperature, top-k, top-p). */
import { z } from "zod";
import { loadTokenizer } from "../data/tokenize.ts";
import { Generator } from "../models/generate.ts";
import { CommonFlags, loadModelWithAdapters, parseFlags } from "./common.ts";

/** Flags of `generate`. */
export const GenerateFlags = CommonFlags.extend({
  model: z.string().describe("HF model dir, or 'default'"),
  prompt: z.string().min(1).describe("text to continue"),
  maxNewTokens: z.number().int().positive().max(4096).default(32).describe("tokens to generate at most"),
  temperature: z.number().nonnegative().max(100).default(0).describe("0 = greedy"),
  topK: z.number().int().nonnegative().default(0).describe("sample from the k most likely tokens (0 = all)"),
  topP: z.number().gt(0).max(1).default(1).describe("nucleus sampling mass (1 = off)"),
  seed: z.number().int().nonnegative().default(0).describe("sampling seed"),
});

/** Run `generate`; returns the stdout JSON. */
export async function generateCommand(argv: string[]): Promise<{ text: string }> {
  const f = parseFlags(GenerateFlags, argv);
  const model = await loadModelWithAdapters(f.model, f.adapter);
  if (!model.hasTokenizer) throw new Error(`--model ${f.model}: the model dir has no tokenizer.json`);
  const tok = await loadTokenizer(model.dir);
  const g = new Generator(model.config, f.backend);
  try {
    const ids = await g.generate(model.weights, tok.encode(f.prompt), {
      ...f,
      eosId: tok.eos_token_id ?? undefined,
    });
    return { text: tok.decode(ids, { skip_special_tokens: true }) };
  } finally {
    await g.release();
  }
}
