/**
 * Test helper (run as a subprocess): start the wasm runtime at 2 threads, run a MatMul, print
 * `{"threads": wasmThreads(), "y": <a sum of the result>}` as JSON.
 */
import { input, matmul } from "../../src/graph/ops.ts";
import { lowerGraph } from "../../src/graph/lower.ts";
import { createSession, f32, wasmThreads } from "../../src/runtime/session.ts";

const a = input("a", "float32", [64, 64]);
const s = await createSession(lowerGraph({ y: matmul(a, a) }).bytes, { backend: "wasm", threads: 2 });
const { y } = await s.run({ a: f32(new Float32Array(64 * 64).fill(1), [64, 64]) });
console.log(
  JSON.stringify({ threads: wasmThreads(), y: (y.data as Float32Array).reduce((p, v) => p + v, 0) }),
);
Deno.exit(0);
