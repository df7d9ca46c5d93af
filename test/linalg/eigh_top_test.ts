/** eighTopR: the r largest eigenpairs against eighSym's full decomposition, on WASM and TS. */
import assert from "node:assert/strict";
import { assertClose } from "../_util.ts";
import { referenceKernels as ts } from "../../src/linalg/mod.ts";
import { eighTop64, tql1, tridiagonalize } from "../../src/linalg/eigh_top.ts";
import { both, matmul, maxAbsDiff, orthError, randomMatrix, transpose, wasm } from "./_helpers.ts";

function symmetric(n: number, seed: number): Float32Array {
  const b = randomMatrix(n, n, seed), a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
  return a;
}

/** B Bᵀ for B n×k: positive semidefinite of rank k. */
function lowRankPsd(n: number, k: number, seed: number): Float32Array {
  const b = randomMatrix(n, k, seed);
  return Float32Array.from(matmul(b, transpose(b, n, k), n, k, n));
}

/** max |A X − X Λ| / max |λ| for X n×r. */
function residual(a: Float32Array, e: { values: Float32Array; vectors: Float32Array }, n: number, r: number) {
  const ax = matmul(a, e.vectors, n, n, r);
  let res = 0, scale = 1e-30;
  for (let j = 0; j < r; j++) scale = Math.max(scale, Math.abs(e.values[j]));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < r; j++) {
      res = Math.max(res, Math.abs(ax[i * r + j] - e.vectors[i * r + j] * e.values[j]));
    }
  }
  return res / scale;
}

Deno.test("eighTopR: the r largest eigenpairs of eighSym, descending and orthonormal; WASM equals TS", () => {
  for (const [n, r] of [[1, 1], [2, 1], [3, 3], [7, 4], [33, 20], [64, 64], [150, 100]]) {
    const a = symmetric(n, n + r), full = ts.eighSym(a, n);
    const want = Array.from({ length: r }, (_, j) => full.values[n - 1 - j]);
    const got = both.map(([name, K]) => {
      const e = K.eighTopR(a, n, r);
      assertClose(e.values, want, { atol: 1e-5, rtol: 1e-5, label: `${name} n=${n} values` });
      assert.ok(orthError(e.vectors, n, r) < 1e-6, `${name} n=${n} orthonormal`);
      assert.ok(residual(a, e, n, r) < 1e-5, `${name} n=${n} residual ${residual(a, e, n, r)}`);
      for (let j = 0; j < r; j++) {
        let at = 0;
        for (let i = 1; i < n; i++) {
          if (Math.abs(e.vectors[i * r + j]) > Math.abs(e.vectors[at * r + j])) at = i;
        }
        assert.ok(e.vectors[at * r + j] > 0, `${name}: largest |x_${j}| entry positive`);
      }
      return e;
    });
    assert.ok(maxAbsDiff(got[0].values, got[1].values) < 1e-5 * Math.max(1, Math.abs(want[0])));
    assert.ok(maxAbsDiff(got[0].vectors, got[1].vectors) < 1e-5, `n=${n} vectors WASM vs TS`);
  }
});

Deno.test("eighTopR: repeated, clustered and zero eigenvalues still get orthonormal eigenvectors", () => {
  const n = 40,
    diag = new Float32Array(n * n),
    zero = new Float32Array(n * n),
    close = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    diag[i * n + i] = i % 3; // 0, 1, 2 each ~13 times
    close[i * n + i] = 1 + 1e-9 * i; // one tight cluster
  }
  close[1] = close[n] = 1e-3;
  const cases: [string, Float32Array, number][] = [
    ["repeated", diag, 20],
    ["cluster", close, 10],
    ["zero", zero, 5],
    ["rank 3 (r = 10 reaches the null space)", lowRankPsd(n, 3, 1), 10],
  ];
  for (const [label, a, r] of cases) {
    for (const [name, K] of both) {
      const e = K.eighTopR(a, n, r), full = ts.eighSym(a, n);
      assert.ok(orthError(e.vectors, n, r) < 1e-6, `${name} ${label}: orthonormal`);
      assert.ok(residual(a, e, n, r) < 1e-5, `${name} ${label}: residual`);
      for (let j = 0; j < r; j++) {
        assert.ok(Math.abs(e.values[j] - full.values[n - 1 - j]) < 1e-5, `${label} λ${j}`);
      }
    }
  }
});

Deno.test("eighTop64: f64 eigenpairs of a Wishart matrix to ~1e-14 (tridiagonalization + QL + inverse iteration)", () => {
  const n = 96, b = randomMatrix(n, 3 * n, 5), c = matmul(b, transpose(b, n, 3 * n), n, 3 * n, n);
  const { values, vectors, ok } = eighTop64(c.slice(), n, 64, 0, 1);
  assert.ok(ok);
  let orth = 0, res = 0;
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 64; j++) {
      let s = 0;
      for (let t = 0; t < n; t++) s += vectors[t * 64 + i] * vectors[t * 64 + j];
      orth = Math.max(orth, Math.abs(s - (i === j ? 1 : 0)));
    }
    for (let t = 0; t < n; t++) {
      let s = 0;
      for (let q = 0; q < n; q++) s += c[t * n + q] * vectors[q * 64 + i];
      res = Math.max(res, Math.abs(s - values[i] * vectors[t * 64 + i]) / values[0]);
    }
  }
  assert.ok(orth < 1e-13 && res < 1e-13, `orth ${orth} residual ${res}`);
  // the tridiagonal's eigenvalues are the matrix's: trace and Frobenius norm are kept
  const { d, e } = tridiagonalize(c.slice(), n);
  let trace = 0, fro = 0, traceT = 0, froT = 0;
  for (let i = 0; i < n; i++) trace += c[i * n + i];
  for (let i = 0; i < n * n; i++) fro += c[i] * c[i];
  for (let i = 0; i < n; i++) [traceT, froT] = [traceT + d[i], froT + d[i] ** 2 + 2 * e[i] ** 2];
  assert.ok(Math.abs(trace - traceT) < 1e-9 * trace && Math.abs(fro - froT) < 1e-9 * fro);
  const w = d.map((x) => x / trace);
  assert.ok(tql1(w, e.map((x) => x / trace), n));
  w.sort().reverse();
  for (let j = 0; j < 64; j++) {
    assert.ok(Math.abs(w[j] * trace - values[j]) < 1e-12 * values[0], `tql1 λ${j}`);
  }
});

Deno.test("eighTopR: argument errors", () => {
  for (const [, K] of both) {
    assert.throws(() => K.eighTopR(new Float32Array(4), 2, 3), /r must be an integer in \[1, n = 2\]/);
    assert.throws(() => K.eighTopR(new Float32Array(5), 2, 1), /a must have 2×2 = 4 elements/);
  }
  assert.ok(wasm.eighTopR(new Float32Array([2, 1, 1, 2]), 2, 1).values[0] === 3);
});
