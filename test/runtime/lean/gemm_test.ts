/** Lean GEMM: every transpose pair, batch (shared and per-batch B), bias, alpha, accumulate. */
import assert from "node:assert/strict";
import { pair } from "./_harness.ts";

const SHAPES = [
  [1, 1, 1],
  [3, 5, 2],
  [4, 8, 4],
  [5, 9, 7],
  [17, 33, 65],
  [130, 70, 300],
  [64, 520, 257],
  [1, 9, 1000], // m ≤ 4: the unpacked decode path
  [2, 37, 300],
  [4, 520, 257],
];

Deno.test("lean gemm: NN, NT, TN, TT match the reference on ragged and block-crossing shapes", async () => {
  const p = await pair(16);
  for (const [m, n, k] of SHAPES) {
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
      p.reset();
      const a = p.rnd(m * k), b = p.rnd(k * n), c = p.junk(4 * m * n);
      const s = p.alloc(p.wasm.gemmScratchBytes(m, n, k, ta, tb));
      p.both((kk) => kk.gemm(a, b, c, 0, m, n, k, ta, tb, 1, 0, 0, 0, 1, false, s));
      p.close(c, m * n, `${m}×${n}×${k} transA=${ta} transB=${tb}`, 1e-5, 1e-5);
    }
  }
});

Deno.test("lean gemm: alpha, bias, accumulate and batches (strided and broadcast B) match the reference", async () => {
  const p = await pair(16);
  for (const [m, n, k] of [[3, 5, 2], [9, 17, 33], [33, 12, 260]]) {
    for (const [ta, tb] of [[false, false], [false, true], [true, false]]) {
      for (const [batch, shareB] of [[1, false], [3, false], [3, true]] as const) {
        for (const accumulate of [false, true]) {
          p.reset();
          const a = p.rnd(batch * m * k), b = p.rnd((shareB ? 1 : batch) * k * n), c = p.rnd(batch * m * n);
          const bias = p.rnd(n), s = p.alloc(p.wasm.gemmScratchBytes(m, n, k, ta, tb));
          const sb = shareB ? 0 : k * n;
          p.both((kk) =>
            kk.gemm(a, b, c, bias, m, n, k, ta, tb, batch, m * k, sb, m * n, -0.5, accumulate, s)
          );
          p.close(
            c,
            batch * m * n,
            `${m}×${n}×${k} ta=${ta} tb=${tb} batch=${batch} shareB=${shareB} acc=${accumulate}`,
          );
        }
      }
    }
  }
});

Deno.test("lean gemm: the reference is the textbook product (2×3 · 3×2 by hand)", async () => {
  const p = await pair(1);
  const a = p.put(new Float32Array([1, 2, 3, 4, 5, 6])), b = p.put(new Float32Array([7, 8, 9, 10, 11, 12]));
  const c = p.alloc(16), bias = p.put(new Float32Array([100, 200]));
  p.both((k) => k.gemm(a, b, c, bias, 2, 2, 3, false, false, 1, 0, 0, 0, 1, false, p.alloc(4096)));
  assert.deepEqual([...p.f32(c, 4, "ref")], [158, 264, 239, 354]);
  assert.deepEqual([...p.f32(c, 4, "wasm")], [158, 264, 239, 354]);
  assert.equal(p.wasm.gemmScratchBytes(0, 5, 5, false, false), 0);
});
