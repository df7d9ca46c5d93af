/**
 * @module Labels sampled from a model's own predictive distribution: the "true Fisher" /
 * Gauss-Newton-Bartlett draws of Sophia-G, Sensitivity-LoRA's GNB estimate and K-FAC.
 */
import type { Batch } from "../data/batch.ts";

/**
 * Sample one label per position from the model's distribution softened to temperature `temperature`
 * (p ∝ exp(logit / T); default 1, the model's own distribution), −100 where ignored.
 *
 * @example
 * ```ts ignore
 * const labels = sampleLabels(logits.data as Float32Array, batch, config.vocabSize, seed);
 * ```
 */
export function sampleLabels(
  logits: Float32Array,
  batch: Batch,
  vocab: number,
  seed: number,
  temperature = 1,
): BigInt64Array {
  if (!(temperature > 0)) throw new Error(`sampleLabels: temperature must be > 0, got ${temperature}`);
  const inv = 1 / temperature;
  let s = (seed * 2246822519) >>> 0 || 1;
  const rand = () => ((s ^= s << 13, s ^= s >>> 17, s ^= s << 5) >>> 0) / 4294967296;
  const out = new BigInt64Array(batch.labels.length);
  for (let p = 0; p < out.length; p++) {
    if (batch.labels[p] === -100n) {
      out[p] = -100n;
      continue;
    }
    const row = logits.subarray(p * vocab, (p + 1) * vocab);
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    let z = 0;
    for (const x of row) z += Math.exp((x - max) * inv);
    let u = rand() * z, pick = vocab - 1;
    for (let v = 0; v < vocab; v++) {
      if ((u -= Math.exp((row[v] - max) * inv)) <= 0) {
        pick = v;
        break;
      }
    }
    out[p] = BigInt(pick);
  }
  return out;
}
