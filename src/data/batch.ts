/**
 * Examples → one right-padded int64 batch, laid out row-major as [B, T] for the ONNX graphs.
 * Pads: token `padId`, label -100, attention mask 0, position id 0. Real tokens: mask 1, positions 0..len-1.
 * @module
 */
import type { Example } from "./example.ts";

/** A padded batch; every array is [B, T] row-major. */
export interface Batch {
  inputIds: BigInt64Array;
  /** Already-shifted targets (see tokenize.ts), -100 = no loss (always -100 on pads). */
  labels: BigInt64Array;
  /** 1 = real token, 0 = pad. */
  attentionMask: BigInt64Array;
  /** 0..len-1 on real tokens, 0 on pads. */
  positionIds: BigInt64Array;
  B: number;
  /** Length of the longest example (rounded up to a multiple of `padTo`). */
  T: number;
  /** Number of labels that are not -100 (the loss denominator). */
  targetTokens: number;
}

/**
 * Right-pads examples to the longest one, rounded up to a multiple of `padTo` (a backend that plans
 * per shape then sees few shapes; padding is masked out and changes no loss or gradient).
 *
 * @example
 * ```ts
 * const b = makeBatch([
 *   { inputIds: Int32Array.of(5, 6, 7), labels: Int32Array.of(6, 7, -100), row: 1 },
 *   { inputIds: Int32Array.of(8, 9), labels: Int32Array.of(9, -100), row: 2 },
 * ]);
 * b.T; // 3
 * b.inputIds; // BigInt64Array [5n, 6n, 7n, 8n, 9n, 0n]
 * b.targetTokens; // 3
 * ```
 */
export function makeBatch(examples: Example[], padId = 0, padTo = 1): Batch {
  if (examples.length === 0) throw new Error("makeBatch: no examples");
  const B = examples.length;
  const T = Math.ceil(Math.max(...examples.map((e) => e.inputIds.length)) / padTo) * padTo;
  const inputIds = new BigInt64Array(B * T).fill(BigInt(padId));
  const labels = new BigInt64Array(B * T).fill(-100n);
  const attentionMask = new BigInt64Array(B * T);
  const positionIds = new BigInt64Array(B * T);
  let targetTokens = 0;
  examples.forEach((e, b) => {
    if (e.labels.length !== e.inputIds.length) {
      throw new Error(
        `makeBatch: row ${e.row} has ${e.inputIds.length} input ids but ${e.labels.length} labels`,
      );
    }
    for (let t = 0; t < e.inputIds.length; t++) {
      const k = b * T + t;
      inputIds[k] = BigInt(e.inputIds[t]);
      labels[k] = BigInt(e.labels[t]);
      attentionMask[k] = 1n;
      positionIds[k] = BigInt(t);
      if (e.labels[t] !== -100) targetTokens++;
    }
  });
  return { inputIds, labels, attentionMask, positionIds, B, T, targetTokens };
}

/**
 * Consecutive batches of at most `size` rows, in order.
 *
 * @example
 * ```ts
 * const row = { inputIds: Int32Array.of(1, 2), labels: Int32Array.of(2, -100), row: 1 };
 * batchesOf([row, row, row], 2).map((b) => b.B); // [2, 1]
 * ```
 */
export function batchesOf(rows: Example[], size: number): Batch[] {
  const out = [];
  for (let i = 0; i < rows.length; i += size) out.push(makeBatch(rows.slice(i, i + size)));
  return out;
}
