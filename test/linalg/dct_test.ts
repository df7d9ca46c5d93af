import assert from "node:assert/strict";
import { assertClose } from "../_util.ts";
import { type DctSide, dctSide, referenceKernels as ts } from "../../src/linalg/mod.ts";
import { both, matmul, maxAbsDiff, orthError, randomMatrix, transpose, wasm } from "./_helpers.ts";

/** Brute force: S by f64 loops, all scores, full sort (score desc, index asc). */
function bruteForce(g: Float32Array, m: number, n: number, q: Float32Array, side: DctSide, norm: 1 | 2) {
  const s = side === "right" ? matmul(g, q, m, n, n) : matmul(transpose(q, m, m), g, m, m, n);
  const size = side === "right" ? n : m, acc = new Float64Array(size);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      acc[side === "right" ? j : i] += norm === 1 ? Math.abs(s[i * n + j]) : s[i * n + j] ** 2;
    }
  }
  const score = Array.from(acc, (v) => norm === 2 ? Math.sqrt(v) : v);
  const order = score.map((_, k) => k).sort((x, y) => score[y] - score[x] || x - y);
  return { s, score, order };
}

Deno.test("dctBasis: orthonormal DCT-II (dct3_matrix convention), WASM equals TS", () => {
  for (const n of [1, 2, 8, 37, 64]) {
    const [t, w] = both.map(([, K]) => K.dctBasis(n));
    assert.ok(maxAbsDiff(t, w) < 2e-7, `n=${n}`);
    for (const c of [t, w]) {
      assert.ok(orthError(c, n, n) < 1e-6, `CᵀC = I, n=${n}`);
      assert.ok(orthError(transpose(c, n, n), n, n) < 1e-6, `C Cᵀ = I, n=${n}`);
      for (let j = 0; j < n; j++) assert.ok(Math.abs(c[j] - 1 / Math.sqrt(n)) < 1e-7, "row 0 is constant");
    }
  }
  // rows are frequencies: C[k, j] = sqrt(2/n) cos(π k (2j+1) / 2n)
  const c = wasm.dctBasis(16);
  assert.ok(Math.abs(c[3 * 16 + 5] - Math.sqrt(2 / 16) * Math.cos(Math.PI * 3 * 11 / 32)) < 1e-7);
});

Deno.test("dctTopR: matches brute force on both sides and norms; WASM equals TS", () => {
  for (const [m, n] of [[24, 40], [40, 24], [33, 33], [7, 129]]) {
    const g = randomMatrix(m, n, m + n), side = dctSide(m, n), size = side === "right" ? n : m;
    const q = ts.dctBasis(size), r = Math.min(6, size);
    for (const norm of [1, 2] as const) {
      const bf = bruteForce(g, m, n, q, side, norm);
      for (const [name, K] of both) {
        const sel = K.dctTopR(g, m, n, q, r, { norm });
        assert.equal(sel.side, side);
        assert.deepEqual(Array.from(sel.indices), bf.order.slice(0, r), `${name} ${m}×${n} L${norm}`);
        assertClose(sel.scores, Array.from(sel.indices, (k) => bf.score[k]), {
          atol: 1e-5,
          rtol: 1e-5,
          label: name,
        });
        const want = side === "right"
          ? Float64Array.from({ length: m * r }, (_, x) => bf.s[Math.floor(x / r) * n + sel.indices[x % r]])
          : Float64Array.from(
            { length: r * n },
            (_, x) => bf.s[sel.indices[Math.floor(x / n)] * n + (x % n)],
          );
        assertClose(sel.projected, want, { atol: 1e-5, rtol: 1e-5, label: `${name} projected` });
      }
    }
  }
});

Deno.test("dctTopR: the selection captures the most energy (L2) among all subsets", () => {
  // with orthonormal Q, ‖G Q_S‖² = Σ_{k∈S} ‖S[:,k]‖²: top-r by L2 beats any other r-subset
  const [m, n, r] = [12, 8, 3];
  const g = randomMatrix(m, n, 77), q = ts.dctBasis(n);
  const sel = wasm.dctTopR(g, m, n, q, r, { norm: 2 });
  const s = matmul(g, q, m, n, n);
  const colEnergy = (k: number) =>
    Array.from({ length: m }, (_, i) => s[i * n + k] ** 2).reduce((a, b) => a + b);
  const energy = (idx: number[]) => idx.reduce((e, k) => e + colEnergy(k), 0);
  const best = energy(Array.from(sel.indices));
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      for (let c = b + 1; c < n; c++) assert.ok(energy([a, b, c]) <= best + 1e-9);
    }
  }
});

Deno.test("dctTopR: ties break to the lower index (identity basis, duplicated columns)", () => {
  const eye = (k: number) => Float32Array.from({ length: k * k }, (_, i) => i % (k + 1) === 0 ? 1 : 0);
  // right side: m=5 ≥ n=4; columns 1 and 3 identical and largest, column 0 and 2 identical
  const g = new Float32Array(20);
  for (let i = 0; i < 5; i++) [g[i * 4], g[i * 4 + 1], g[i * 4 + 2], g[i * 4 + 3]] = [1, -3, 1, -3];
  // left side: m=3 < n=6; rows 0 and 2 equal
  const h = Float32Array.from({ length: 18 }, (_, x) => Math.floor(x / 6) === 1 ? 0.5 : 2);
  for (const [name, K] of both) {
    assert.deepEqual(Array.from(K.dctTopR(g, 5, 4, eye(4), 4).indices), [1, 3, 0, 2], name);
    assert.deepEqual(Array.from(K.dctTopR(h, 3, 6, eye(3), 2).indices), [0, 2], name);
  }
});

Deno.test("dctSide and argument errors", () => {
  assert.equal(dctSide(768, 3072), "left");
  assert.equal(dctSide(3072, 768), "right");
  assert.equal(dctSide(1024, 4096), "right"); // GQA k/v exception of fft_projector.py
  const g = randomMatrix(4, 6, 1);
  for (const [, K] of both) {
    assert.throws(() => K.dctTopR(g, 4, 6, ts.dctBasis(6), 2), /basis must have 4×4/);
    assert.throws(() => K.dctTopR(g, 4, 6, ts.dctBasis(4), 5), /r must be an integer in \[1, 4\]/);
    assert.throws(() => K.dctTopR(g, 4, 6, ts.dctBasis(6), 2, { side: "right", norm: 3 as 1 }), /norm/);
  }
});
