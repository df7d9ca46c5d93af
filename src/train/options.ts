/**
 * @module Training options: one zod schema (every field described) that the CLI, the HTTP API
 * and the library share. Defaults follow transformers' `TrainingArguments` where one exists.
 */
import { z } from "npm:zod@4.6.7";
import { SCHEDULES } from "../optim/schedule.ts";

/** Fine-tuning hyper-parameters. */
export const TrainOptionsSchema = z.object({
  steps: z.number().int().positive().max(1_000_000).default(100).describe("optimizer steps"),
  lr: z.number().positive().max(1).default(5e-5).describe("peak learning rate (HF default 5e-5)"),
  batchSize: z.number().int().positive().max(4096).default(8).describe("rows per micro-batch"),
  gradAccum: z.number().int().positive().max(1024).default(1).describe("micro-batches per optimizer step"),
  warmup: z.number().int().nonnegative().default(0).describe("linear warm-up steps"),
  schedule: z.enum(SCHEDULES).default("linear").describe(
    "learning-rate schedule after warm-up (HF default linear)",
  ),
  weightDecay: z.number().nonnegative().max(1).default(0).describe("decoupled weight decay λ (HF default 0)"),
  optimizer: z.enum(["adamw", "sophia"]).default("adamw").describe(
    "optimizer: AdamW, or Sophia-G (diagonal Hessian)",
  ),
  momentBits: z.union([z.literal(32), z.literal(8)]).default(32).describe(
    "AdamW moments stored in 32 bits, or 8 (block-wise quantized as AdamW8bit: 4× less optimizer state)",
  ),
  beta1: z.number().min(0).lt(1).optional().describe("β₁ (default 0.9 AdamW, 0.965 Sophia)"),
  beta2: z.number().min(0).lt(1).optional().describe("β₂ (default 0.999 AdamW, 0.99 Sophia)"),
  rho: z.number().positive().default(0.04).describe("Sophia ρ (official default 0.04)"),
  hessInterval: z.number().int().positive().default(10).describe(
    "Sophia: refresh the Hessian estimate every k steps",
  ),
  eps: z.number().positive().default(1e-8).describe("Adam ε"),
  maxGradNorm: z.number().nonnegative().default(1).describe(
    "global gradient-norm clip; 0 disables (HF default 1.0)",
  ),
  seed: z.number().int().nonnegative().default(42).describe("seed for data order (HF default 42)"),
  logEvery: z.number().int().positive().default(1).describe("report progress every N steps"),
});
/** Parsed training options. */
export type TrainOptions = z.infer<typeof TrainOptionsSchema>;
/** Training options as given (defaults optional). */
export type TrainOptionsInput = z.input<typeof TrainOptionsSchema>;
