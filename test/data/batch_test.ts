/** Batching (src/data/batch.ts): right padding, masks, positions, target count. */
import assert from "node:assert/strict";
import { makeBatch } from "../../src/data/batch.ts";
import { encodeRows } from "../../src/data/tokenize.ts";

const big = (xs: number[]) => BigInt64Array.from(xs.map(BigInt));

Deno.test("makeBatch: right-pads to the longest row", () => {
  const ex = encodeRows([{ input_ids: [5, 6, 7] }, { input_ids: [8, 9] }, { input_ids: [4] }], {
    maxLength: 8,
  });
  const b = makeBatch(ex, 99);
  assert.equal(b.B, 3);
  assert.equal(b.T, 3);
  assert.deepEqual(b.inputIds, big([5, 6, 7, 8, 9, 99, 4, 99, 99]));
  assert.deepEqual(b.labels, big([6, 7, -100, 9, -100, -100, -100, -100, -100]));
  assert.deepEqual(b.attentionMask, big([1, 1, 1, 1, 1, 0, 1, 0, 0]));
  assert.deepEqual(b.positionIds, big([0, 1, 2, 0, 1, 0, 0, 0, 0]));
  assert.equal(b.targetTokens, 3);
});

Deno.test("makeBatch: default pad id 0, explicit -100 labels not counted", () => {
  const b = makeBatch([
    { inputIds: Int32Array.of(3, 4), labels: Int32Array.of(-100, -100), row: 1 },
    { inputIds: Int32Array.of(1, 2, 3, 4), labels: Int32Array.of(2, -100, 4, -100), row: 2 },
  ]);
  assert.deepEqual(b.inputIds, big([3, 4, 0, 0, 1, 2, 3, 4]));
  assert.equal(b.targetTokens, 2);
});

Deno.test("makeBatch: rejects empty input and mismatched labels", () => {
  assert.throws(() => makeBatch([]), /no examples/);
  assert.throws(
    () => makeBatch([{ inputIds: Int32Array.of(1, 2), labels: Int32Array.of(1), row: 4 }]),
    /row 4 has 2 input ids but 1 labels/,
  );
});
