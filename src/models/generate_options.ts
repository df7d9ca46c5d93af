/**
 * @module Decoding options of generation (HF `generate` names in camelCase), one zod schema that
 * holds their defaults for the CLI, HTTP and the library.
 */
import { z } from "npm:zod@4.6.7";

/** Decoding options (camelCase; HF `generate` names). */
export const GenerateOptionsSchema = z.object({
  maxNewTokens: z.number().int().positive().max(4096).default(32).describe("tokens to generate at most"),
  temperature: z.number().nonnegative().max(100).default(0).describe("0 = greedy"),
  topK: z.number().int().nonnegative().max(1_000_000).default(0).describe(
    "sample from the k most likely tokens (0 = all)",
  ),
  topP: z.number().gt(0).max(1).default(1).describe("nucleus sampling mass (1 = off)"),
  seed: z.number().int().nonnegative().default(0).describe("sampling seed"),
});
