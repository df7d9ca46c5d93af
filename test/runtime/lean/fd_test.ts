/**
 * Backward kernels of the lean reference against central finite differences of its own forward:
 * for L(x) = ⟨forward(x), r⟩ and a random direction u, ⟨backward(r), u⟩ ≈ (L(x + εu) − L(x − εu))/2ε.
 */
import assert from "node:assert/strict";
import { randn, rng } from "../../_util.ts";
import { ReferenceLeanKernels } from "../../../src/runtime/lean/reference.ts";

const rand = rng(7);
const mem = { buffer: new ArrayBuffer(1 << 22) };
const ref = new ReferenceLeanKernels(mem);
const f32 = new Float32Array(mem.buffer);
let top = 64;
const alloc = (n: number) => {
  const p = top;
  top += 4 * n + 64;
  return p;
};
const put = (data: Float32Array | Int32Array) => {
  const p = alloc(data.length);
  new Uint8Array(mem.buffer, p, data.byteLength).set(new Uint8Array(data.buffer));
  return p;
};
const read = (p: number, n: number) => f32.slice(p / 4, p / 4 + n);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((s, x, i) => s + x * b[i], 0);

/**
 * Check the gradient `grads[i]` (already computed at x) of L = ⟨run(), r⟩ w.r.t. input pointer
 * `xs[i]` (n floats each) along a random direction over all inputs.
 */
function check(label: string, xs: [number, number][], grads: Float32Array[], run: () => number, eps = 1e-2) {
  const dirs = xs.map(([, n]) => randn(n, rand));
  const base = xs.map(([p, n]) => read(p, n));
  const at = (s: number) => {
    xs.forEach(([p], i) => f32.set(base[i].map((v, j) => v + s * dirs[i][j]), p / 4));
    return run();
  };
  const fd = (at(eps) - at(-eps)) / (2 * eps);
  at(0);
  const an = grads.reduce((s, g, i) => s + dot(g, dirs[i]), 0);
  assert.ok(
    Math.abs(fd - an) <= 3e-3 * (1 + Math.abs(an)),
    `${label}: finite difference ${fd} vs backward ${an}`,
  );
}

Deno.test("lean reference rmsNorm / layerNorm backward = finite differences of the forward", () => {
  top = 64;
  const [rows, d] = [3, 6];
  const x = put(randn(rows * d, rand)), w = put(randn(d, rand, 0.5, 1.5)), b = put(randn(d, rand));
  const r = randn(rows * d, rand),
    rp = put(r),
    out = alloc(rows * d),
    dx = alloc(rows * d),
    dw = alloc(d),
    db = alloc(d);
  ref.rmsNormBackward(rp, x, w, dx, dw, rows, d, 1e-6, 1, false);
  check("rmsNorm", [[x, rows * d], [w, d]], [read(dx, rows * d), read(dw, d)], () => {
    ref.rmsNorm(x, w, out, rows, d, 1e-6, 1);
    return dot(read(out, rows * d), r);
  });
  ref.layerNormBackward(rp, x, w, dx, dw, db, rows, d, 1e-5, false);
  check("layerNorm", [[x, rows * d], [w, d], [b, d]], [read(dx, rows * d), read(dw, d), read(db, d)], () => {
    ref.layerNorm(x, w, b, out, rows, d, 1e-5);
    return dot(read(out, rows * d), r);
  });
});

Deno.test("lean reference rope backward = finite differences of the forward", () => {
  top = 64;
  const [b, h, t, e] = [2, 2, 3, 4], n = b * h * t * e;
  const x = put(randn(n, rand)), cos = put(randn(b * t * e, rand)), sin = put(randn(b * t * e, rand));
  const r = randn(n, rand), rp = put(r), out = alloc(n), dx = alloc(n);
  ref.ropeBackward(rp, cos, sin, dx, b, h, t, e, true);
  check("rope", [[x, n]], [read(dx, n)], () => {
    ref.rope(x, cos, sin, out, b, h, t, e, true);
    return dot(read(out, n), r);
  });
});

Deno.test("lean reference attention backward = finite differences of the forward (GQA, window, padding)", () => {
  top = 64;
  const [b, h, kvh, tq, tk, e] = [2, 4, 2, 5, 6, 3];
  const nq = b * h * tq * e, nk = b * kvh * tk * e;
  const q = put(randn(nq, rand)), k = put(randn(nk, rand)), v = put(randn(nk, rand));
  const mask = put(Int32Array.from({ length: b * tk }, (_, i) => (i === 7 ? 0 : 1)));
  const r = randn(nq, rand), rp = put(r), out = alloc(nq), lse = alloc(b * h * tq);
  const dq = alloc(nq), dk = alloc(nk), dv = alloc(nk), scale = 0.7;
  ref.attention(q, k, v, mask, out, lse, b, h, kvh, tq, tk, e, scale, 3, 0);
  ref.attentionBackward(rp, q, k, v, mask, out, lse, dq, dk, dv, b, h, kvh, tq, tk, e, scale, 3, 0);
  check("attention", [[q, nq], [k, nk], [v, nk]], [read(dq, nq), read(dk, nk), read(dv, nk)], () => {
    ref.attention(q, k, v, mask, out, lse, b, h, kvh, tq, tk, e, scale, 3, 0);
    return dot(read(out, nq), r);
  });
});

Deno.test("lean reference cross-entropy backward = finite differences of the loss (both W layouts)", () => {
  for (const transW of [true, false]) {
    top = 64;
    const [rows, d, v] = [4, 5, 9];
    const h = put(randn(rows * d, rand)),
      w = put(randn(v * d, rand)),
      labels = put(new Int32Array([2, -100, 8, 0]));
    const nll = alloc(rows), dh = alloc(rows * d), dw = alloc(v * d);
    const gRows = [0.5, 1, -0.25, 2], g = put(Float32Array.from(gRows));
    ref.crossEntropyBackward(g, h, w, labels, dh, dw, rows, d, v, 2, transW, false, 0);
    check(
      `crossEntropy transW ${transW}`,
      [[h, rows * d], [w, v * d]],
      [read(dh, rows * d), read(dw, v * d)],
      () => {
        ref.crossEntropyRows(h, w, labels, nll, rows, d, v, 2, transW, 0);
        return read(nll, rows).reduce((s, x, r) => s + gRows[r] * x, 0);
      },
    );
  }
});
