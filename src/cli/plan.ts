/** @module `plan`: the memory a fine-tuning step (or an eval batch) needs, before running it. */
import { z } from "npm:zod@4.6.7";
import { join } from "../io/path.ts";
import { parseConfig } from "../models/config.ts";
import { resolveModelDir } from "../models/reference.ts";
import { planRun, type RunPlan } from "../train/plan.ts";
import { CommonFlags, parseFlags } from "./common.ts";

/** Flags of `plan`. */
export const PlanFlags = CommonFlags.extend({
  model: z.string().describe("HF model dir (its config.json is read), or 'default'"),
  method: z.enum(["full", "lora", "galore", "qgalore", "dct", "eval"]).default("full")
    .describe("fine-tuning method, or eval (forward only)"),
  rank: z.number().int().positive().optional().describe("LoRA / projection rank (default 8 / 128)"),
  targets: z.string().optional().describe("module suffixes the method targets, comma-separated"),
  batchSize: z.number().int().positive().default(8).describe("rows per step"),
  seqLen: z.number().int().positive().default(128).describe("tokens per row (the longest row)"),
  gradAccum: z.number().int().positive().default(1).describe("micro-batches per step"),
  baseBits: z.union([z.literal(4), z.literal(8)]).optional()
    .describe("lora: quantize the frozen base to 4 or 8 bits (QLoRA-style)"),
  budget: z.number().positive().optional().describe("also check this budget, in MiB"),
});

/** Run `plan`; returns the stdout JSON. */
export async function planCommand(argv: string[]): Promise<RunPlan> {
  const f = parseFlags(PlanFlags, argv);
  const dir = resolveModelDir(f.model);
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
  } catch (e) {
    throw new Error(`--model: cannot read ${join(dir, "config.json")} (${(e as Error).message})`);
  }
  return await planRun({
    config: parseConfig(raw),
    method: f.method,
    batchSize: f.batchSize,
    seqLen: f.seqLen,
    backend: f.backend,
    rank: f.rank,
    targets: f.targets?.split(",").map((s) => s.trim()).filter(Boolean),
    baseBits: f.baseBits,
    gradAccum: f.gradAccum,
  }, f.budget ? [f.budget] : []);
}
