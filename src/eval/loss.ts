/** @module Mean token NLL and perplexity over a dataset, in batches (the `eval` command), and its options. */
import { z } from "npm:zod@4.6.7";
import { makeBatch } from "../data/batch.ts";
import type { Example } from "../data/example.ts";
import type { ModelRunner } from "../models/runner.ts";
import type { Weights } from "../models/weights.ts";

/** Mean NLL over all target tokens, its perplexity and the token count. */
export interface EvalResult {
  loss: number;
  ppl: number;
  tokens: number;
}

/**
 * Evaluate `examples` in batches of `batchSize` rows.
 *
 * @example
 * ```ts ignore
 * const { loss, ppl } = await evaluateLoss(runner, weights, examples);
 * ```
 */
export async function evaluateLoss(
  runner: ModelRunner,
  weights: Weights,
  examples: Example[],
  batchSize = 8,
): Promise<EvalResult> {
  let sum = 0, tokens = 0;
  for (let i = 0; i < examples.length; i += batchSize) {
    const b = makeBatch(examples.slice(i, i + batchSize));
    if (b.targetTokens === 0) continue;
    sum += (await runner.lossSum(weights, b)).lossSum;
    tokens += b.targetTokens;
  }
  if (tokens === 0) throw new Error("eval: the data has no target tokens");
  const loss = sum / tokens;
  return { loss, ppl: Math.exp(loss), tokens };
}

/** Evaluation options (camelCase). */
export const EvalOptionsSchema = z.object({
  batchSize: z.number().int().positive().max(4096).default(8).describe("rows per forward pass"),
});
