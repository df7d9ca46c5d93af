/** Fast DCT selection: FFT and DCT-III against dense products; dctTopRFft (TS, WASM) = dctTopR. */
import assert from "node:assert/strict";
import { assertClose } from "../_util.ts";
import { dct3, dctSide, fftInPlace, fftPlan, referenceKernels as ts } from "../../src/linalg/mod.ts";
import { both, matmul, randomMatrix, transpose, wasm } from "./_helpers.ts";

/** Sizes covering 1, 2, 3, the radix-4/2/3 paths, other primes (generic butterfly) and GPT-2 widths. */
const SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 18, 25, 35, 37, 45, 64, 97, 100, 192];

Deno.test("fftInPlace: equals the O(n²) DFT with e^{+2πi·jk/n} for any n", () => {
  for (const n of [...SIZES, 243, 576, 768]) {
    const re = Float64Array.from(randomMatrix(n, 1, n)), im = Float64Array.from(randomMatrix(n, 1, n + 1));
    const wr = new Float64Array(n), wi = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < n; j++) {
        const a = 2 * Math.PI * (j * k % n) / n;
        wr[k] += re[j] * Math.cos(a) - im[j] * Math.sin(a);
        wi[k] += re[j] * Math.sin(a) + im[j] * Math.cos(a);
      }
    }
    fftInPlace(re, im, fftPlan(n));
    assertClose(re, wr, { atol: 1e-9, rtol: 1e-9, label: `re n=${n}` });
    assertClose(im, wi, { atol: 1e-9, rtol: 1e-9, label: `im n=${n}` });
  }
});

Deno.test("dct3: equals Cᵀ·x with C = dctBasis(N) (scale included)", () => {
  for (const n of [...SIZES, 576, 768]) {
    const x = randomMatrix(n, 1, 7 * n), c = ts.dctBasis(n);
    assertClose(dct3(x), matmul(transpose(c, n, n), x, n, n, 1), { atol: 1e-6, rtol: 1e-6, label: `N=${n}` });
  }
});

/** S = G·Q or Qᵀ·G in f64 with Q = dctBasis(N), its scores and their order (desc, ties to lower index). */
function dense(g: Float32Array, m: number, n: number, norm: 1 | 2) {
  const side = dctSide(m, n), size = side === "right" ? n : m, q = ts.dctBasis(size);
  const s = side === "right" ? matmul(g, q, m, n, n) : matmul(transpose(q, m, m), g, m, m, n);
  const acc = new Float64Array(size);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      acc[side === "right" ? j : i] += norm === 1 ? Math.abs(s[i * n + j]) : s[i * n + j] ** 2;
    }
  }
  const score = Array.from(acc, (v) => norm === 2 ? Math.sqrt(v) : v);
  return { side, size, s, score, order: score.map((_, k) => k).sort((x, y) => score[y] - score[x] || x - y) };
}

/** Shapes: tiny, both sides, panel tails (counts not multiples of 32), every SIZES entry as N. */
const SHAPES = [
  [1, 1],
  [2, 2],
  [3, 3],
  [1, 6],
  [6, 1],
  [2, 9],
  [9, 3],
  [24, 40],
  [40, 24],
  [33, 33],
  [7, 129],
  [130, 7],
  [50, 70],
  [70, 50],
  ...SIZES.map((s, i) => (i % 2 ? [s, s + 13] : [s + 29, s])),
];

Deno.test("dctTopRFft: TS and WASM match the dense product on both sides, L1 and L2", () => {
  for (const [m, n] of SHAPES) {
    const g = randomMatrix(m, n, 31 * m + n);
    for (const norm of [1, 2] as const) {
      const d = dense(g, m, n, norm), r = Math.min(5, d.size);
      for (const [name, K] of both) {
        const sel = K.dctTopRFft(g, m, n, r, { norm }), label = `${name} ${m}×${n} L${norm}`;
        assert.equal(sel.side, d.side, label);
        assert.deepEqual(Array.from(sel.indices), d.order.slice(0, r), label);
        assertClose(sel.scores, Array.from(sel.indices, (k) => d.score[k]), {
          atol: 1e-5,
          rtol: 1e-5,
          label,
        });
        const want = new Float64Array(sel.projected.length);
        for (let x = 0; x < want.length; x++) {
          want[x] = d.side === "right"
            ? d.s[Math.floor(x / r) * n + sel.indices[x % r]]
            : d.s[sel.indices[Math.floor(x / n)] * n + (x % n)];
        }
        assertClose(sel.projected, want, { atol: 1e-5, rtol: 1e-5, label: `${label} projected` });
      }
    }
  }
});

Deno.test("dctTopRFft: WASM = TS = dense dctTopR at the gpt2 / smollm widths (N = 192, 576, 768)", () => {
  for (const [m, n] of [[192, 576], [576, 200], [600, 576], [768, 800], [770, 768]]) {
    const g = randomMatrix(m, n, m * n), size = Math.min(m, n), r = 64;
    const ref = wasm.dctTopR(g, m, n, wasm.dctBasis(size), r);
    for (const [name, K] of both) {
      const sel = K.dctTopRFft(g, m, n, r), label = `${name} ${m}×${n}`;
      assert.deepEqual(Array.from(sel.indices), Array.from(ref.indices), label);
      assertClose(sel.scores, ref.scores, { atol: 1e-5, rtol: 1e-5, label });
      assertClose(sel.projected, ref.projected, { atol: 2e-5, rtol: 1e-4, label: `${label} projected` });
    }
  }
});

Deno.test("dctTopRFft: a G built from r basis columns selects exactly them; zeros and NaN rank by index", () => {
  const [m, n, cols] = [45, 96, [3, 17, 40]]; // left side, N = 45 = 9·5
  const q = ts.dctBasis(m), g = new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let t = 0; t < n; t++) g[i * n + t] = q[i * m + cols[t % 3]] * (1 + t);
  for (const [name, K] of both) {
    assert.deepEqual(Array.from(K.dctTopRFft(g, m, n, 3).indices).sort((a, b) => a - b), cols, name);
    assert.deepEqual(Array.from(K.dctTopRFft(new Float32Array(m * n), m, n, 4).indices), [0, 1, 2, 3], name);
    const bad = g.slice();
    bad[5] = NaN; // column 5 turns every score NaN → −∞: lowest indices first
    assert.deepEqual(Array.from(K.dctTopRFft(bad, m, n, 2).indices), [0, 1], name);
    assert.throws(() => K.dctTopRFft(g, m, n, m + 1), /r must be an integer in \[1, 45\]/);
  }
});
