/**
 * Sessions on one onnxruntime-web runtime used at once (issue 12.4): overlapping `run` calls of
 * two sessions each get their own, correct result.
 */
import assert from "node:assert/strict";
import { add, input, matmul } from "../../src/graph/ops.ts";
import { lowerGraph } from "../../src/graph/lower.ts";
import { createSession, f32, type HostTensor, type Session } from "../../src/runtime/session.ts";

Deno.test("wasm: overlapping runs of two sessions (24 inputs and 1) each return their own result", async () => {
  const K = 24;
  const xs = Array.from({ length: K }, (_, i) => input(`x${i}`, "float32", [8, 8]));
  const sum = xs.slice(1).reduce((s, x) => add(s, x), xs[0]);
  const many = await createSession(lowerGraph({ z: sum, w: matmul(xs[0], xs[1]) }).bytes, {
    backend: "wasm",
  });
  const few = await createSession(lowerGraph({ z: matmul(xs[0], xs[0]) }).bytes, { backend: "wasm" });
  const feeds: Record<string, HostTensor> = {};
  for (let i = 0; i < K; i++) {
    feeds[`x${i}`] = f32(Array.from({ length: 64 }, (_, j) => (i + 1) * (j % 7)), [8, 8]);
  }
  const result = async (s: Session) =>
    JSON.stringify(Object.entries(await s.run(feeds)).map(([k, t]) => [k, [...t.data as Float32Array]]));
  const want = new Map([[many, await result(many)], [few, await result(few)]]);
  for (let round = 0; round < 40; round++) {
    const order = Array.from({ length: 8 }, (_, j) => ((round + j) % 3 === 0 ? many : few));
    const got = await Promise.all(order.map(result));
    got.forEach((g, j) => assert.equal(g, want.get(order[j]), `round ${round}, run ${j}`));
  }
  await many.release();
  await few.release();
});
