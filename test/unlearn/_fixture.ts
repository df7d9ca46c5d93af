/** A tiny LLaMA, forget/retain rows of random tokens, and helpers shared by the unlearning tests. */
import type { Example } from "../../src/data/example.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import type { Weights } from "../../src/models/weights.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import { evaluateLoss } from "../../src/eval/loss.ts";
import { rng } from "../_util.ts";
import { tinyLlama } from "../models/_tiny.ts";

export const cfg = tinyLlama();

/** Random rows: a 3-token "prompt" without loss, then answer tokens with loss (like Q/A rows). */
export function rows(n: number, seed: number, len = 9): Example[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, row) => {
    const ids = Int32Array.from({ length: len }, () => Math.floor(r() * cfg.vocabSize));
    const labels = Int32Array.from({ length: len }, (_, t) => (t < 2 || t === len - 1 ? -100 : ids[t + 1]));
    return { inputIds: ids, labels, row };
  });
}

export const forgetRows: Example[] = rows(4, 11);
export const retainRows: Example[] = rows(12, 12);

/** Fresh tiny weights (scaled away from the near-uniform init so losses move). */
export function weights(seed = 3): Weights {
  const w = initParams(paramSpecs(cfg), seed);
  for (const v of w.values()) v.forEach((x, i) => (v[i] = x * 4));
  return w;
}

/** Deep copy of weights. */
export const copy = (w: Weights): Weights => new Map([...w].map(([k, v]) => [k, Float32Array.from(v)]));

/** Mean token NLL of `rows` under `w`. */
export async function lossOf(w: Weights, data: Example[]): Promise<number> {
  const r = new ModelRunner(cfg, "node");
  const l = (await evaluateLoss(r, w, data, 16)).loss;
  await r.release();
  return l;
}
