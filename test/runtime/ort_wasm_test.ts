/**
 * onnxruntime-web's threaded start (src/runtime/ort_wasm.ts): the wasm memory never grows while the
 * pool thread runs (a grow there traps the pool thread and the main thread spins for good: issue
 * 12.2), and a pool that does not start in time falls back to one thread instead of waiting.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { input, matmul } from "../../src/graph/ops.ts";
import { lowerGraph } from "../../src/graph/lower.ts";
import { createSession, f32, wasmThreads } from "../../src/runtime/session.ts";

Deno.test("wasm at 2 threads: the memory never grows once the pool runs, past the stock 16 MiB start", async () => {
  const grows: number[] = [];
  const grow = WebAssembly.Memory.prototype.grow;
  let started = false;
  WebAssembly.Memory.prototype.grow = function (delta: number) {
    if (started) grows.push(delta);
    return grow.call(this, delta);
  };
  try {
    const n = 1024;
    const a = input("a", "float32", [n, n]);
    const s = await createSession(lowerGraph({ y: matmul(a, a) }).bytes, { backend: "wasm", threads: 2 });
    started = true; // the pool thread runs from the first session on
    assert.equal(wasmThreads()?.active, 2, JSON.stringify(wasmThreads()));
    // 4 MiB in, 4 MiB out per run, 8 runs kept alive: 64 MiB touched
    const x = f32(new Float32Array(n * n).fill(1 / 32), [n, n]);
    const outs = [];
    for (let i = 0; i < 8; i++) outs.push((await s.run({ a: x })).y);
    for (const y of outs) assert.equal((y.data as Float32Array)[n * n - 1], n / 1024);
    assert.deepEqual(grows, [], "pages grown while the pool thread ran");
    await s.release();
  } finally {
    WebAssembly.Memory.prototype.grow = grow;
  }
});

Deno.test("wasm: a pool that does not start in time falls back to one thread and still runs", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fileURLToPath(new URL("./_wasm_start.ts", import.meta.url))],
    env: { POSTTRAIN_WASM_START_TIMEOUT_MS: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, err);
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(r.threads.requested, 2);
  assert.equal(r.threads.active, 1);
  assert.match(r.threads.fallback, /did not start within 1 ms/);
  assert.match(err, /onnxruntime-web runs on 1 thread/);
  assert.equal(r.y, 64 * 64 * 64);
});
