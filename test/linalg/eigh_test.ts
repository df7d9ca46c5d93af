import assert from "node:assert/strict";
import { assertClose } from "../_util.ts";
import { type Eigh, referenceKernels as ts } from "../../src/linalg/mod.ts";
import { both, matmul, maxAbsDiff, orthError, randomMatrix, transpose, wasm } from "./_helpers.ts";

function symmetric(n: number, seed: number): Float32Array {
  const b = randomMatrix(n, n, seed), a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
  return a;
}

/** B Bᵀ + shift·I: symmetric positive definite. */
function spd(n: number, seed: number, shift = 0.5): Float32Array {
  const b = randomMatrix(n, n, seed), g = matmul(b, transpose(b, n, n), n, n, n);
  for (let i = 0; i < n; i++) g[i * n + i] += shift;
  return Float32Array.from(g);
}

/** max |A Q − Q Λ| / max |λ|. */
function eigResidual(a: Float32Array, e: Eigh, n: number): number {
  const aq = matmul(a, e.vectors, n, n, n);
  let r = 0, scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(e.values[i]));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) r = Math.max(r, Math.abs(aq[i * n + j] - e.vectors[i * n + j] * e.values[j]));
  }
  return r / Math.max(scale, 1e-30);
}

/** Dense f64 Gauss-Jordan solve of M x = b (M n×n), partial pivoting. */
function denseSolve(mat: Float64Array, b: Float64Array, n: number): Float64Array {
  const a = mat.slice(), x = b.slice();
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(a[i * n + c]) > Math.abs(a[p * n + c])) p = i;
    for (let j = 0; j < n; j++) [a[c * n + j], a[p * n + j]] = [a[p * n + j], a[c * n + j]];
    [x[c], x[p]] = [x[p], x[c]];
    for (let i = 0; i < n; i++) {
      if (i === c) continue;
      const f = a[i * n + c] / a[c * n + c];
      for (let j = c; j < n; j++) a[i * n + j] -= f * a[c * n + j];
      x[i] -= f * x[c];
    }
  }
  return x.map((v, i) => v / a[i * n + i]);
}

Deno.test("eighSym: A·Q = Q·Λ, QᵀQ = I, ascending; WASM equals TS", () => {
  for (const n of [1, 2, 3, 7, 33, 64]) {
    const a = symmetric(n, n);
    const [t, w] = both.map(([, K]) => K.eighSym(a, n));
    for (const e of [t, w]) {
      assert.ok(eigResidual(a, e, n) < 1e-5, `n=${n} residual ${eigResidual(a, e, n)}`);
      assert.ok(orthError(e.vectors, n, n) < 1e-5, `n=${n} orth`);
      for (let j = 1; j < n; j++) assert.ok(e.values[j] >= e.values[j - 1]);
    }
    assertClose(w.values, t.values, { atol: 1e-6, rtol: 1e-6, label: `values n=${n}` });
    assert.ok(maxAbsDiff(w.vectors, t.vectors) < 1e-5, `vectors n=${n}`);
  }
});

Deno.test("eighSym: known cases (2×2, diagonal, repeated eigenvalues, symmetric part)", () => {
  for (const [name, K] of both) {
    const e = K.eighSym(new Float32Array([2, 1, 1, 2]), 2);
    assertClose(e.values, [1, 3], { label: name });
    assertClose(e.vectors, [Math.SQRT1_2, Math.SQRT1_2, -Math.SQRT1_2, Math.SQRT1_2], {
      atol: 1e-6,
      label: name,
    });
    const d = K.eighSym(new Float32Array([3, 0, 0, 0, -1, 0, 0, 0, 2]), 3);
    assertClose(d.values, [-1, 2, 3], { label: `${name} diag` });
    const id = K.eighSym(Float32Array.from({ length: 16 }, (_, i) => i % 5 === 0 ? 1 : 0), 4);
    assertClose(id.values, [1, 1, 1, 1], { label: `${name} identity` });
    assert.ok(orthError(id.vectors, 4, 4) < 1e-6);
    // only the symmetric part counts
    const skew = K.eighSym(new Float32Array([2, 3, -1, 2]), 2);
    assertClose(skew.values, [1, 3], { label: `${name} sym part` });
  }
});

Deno.test("cholesky: L lower with L Lᵀ = A, solve residual small; WASM equals TS", () => {
  for (const n of [1, 5, 16, 37]) {
    const a = spd(n, 100 + n), b = randomMatrix(n, 3, n);
    const [lt, lw] = both.map(([, K]) => K.cholesky(a, n));
    for (const [name, K] of both) {
      const l = K.cholesky(a, n);
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assert.equal(l[i * n + j], 0);
      assertClose(matmul(l, transpose(l, n, n), n, n, n), a, {
        atol: 1e-4,
        rtol: 1e-5,
        label: `${name} LLᵀ`,
      });
      const x = K.choleskySolve(l, n, b, 3);
      const res = matmul(a, x, n, n, 3);
      assertClose(res, b, { atol: 1e-4, rtol: 1e-4, label: `${name} A X = B` });
    }
    assert.ok(maxAbsDiff(lt, lw) < 1e-6);
    assert.ok(maxAbsDiff(ts.choleskySolve(lt, n, b, 3), wasm.choleskySolve(lt, n, b, 3)) < 1e-5);
  }
});

Deno.test("cholesky: a non-SPD matrix is an error naming the pivot", () => {
  for (const [, K] of both) {
    assert.throws(
      () => K.cholesky(new Float32Array([1, 2, 2, 1]), 2),
      /not symmetric positive definite \(pivot 1/,
    );
    assert.throws(() => K.cholesky(new Float32Array([-1]), 1), /pivot 0/);
    assert.throws(() => K.cholesky(new Float32Array([NaN]), 1), /pivot 0/);
    assert.throws(() => K.cholesky(new Float32Array(3), 2), /4 elements/);
  }
});

Deno.test("kronInvVec equals a dense solve of (S⊗A + λI) vec(G); WASM equals TS", () => {
  for (const [dOut, dIn, lambda] of [[5, 4, 0.1], [6, 9, 1e-3], [1, 3, 0.5]]) {
    const s = spd(dOut, 7, 0.01), a = spd(dIn, 8, 0.01), g = randomMatrix(dOut, dIn, 9);
    const eS = ts.eighSym(s, dOut), eA = ts.eighSym(a, dIn);
    // dense (S⊗A + λI), row-major vec: index i·dIn + j
    const nn = dOut * dIn, mat = new Float64Array(nn * nn);
    for (let i = 0; i < dOut; i++) {
      for (let j = 0; j < dIn; j++) {
        for (let k = 0; k < dOut; k++) {
          for (let l = 0; l < dIn; l++) {
            mat[(i * dIn + j) * nn + k * dIn + l] = s[i * dOut + k] * a[j * dIn + l] +
              (i === k && j === l ? lambda : 0);
          }
        }
      }
    }
    const want = denseSolve(mat, Float64Array.from(g), nn);
    const scale = Math.max(...want.map(Math.abs));
    for (const [name, K] of both) {
      const got = K.kronInvVec(g, dOut, dIn, eS, eA, lambda);
      assert.ok(
        maxAbsDiff(got, want) < 1e-4 * scale,
        `${name} ${dOut}×${dIn}: ${maxAbsDiff(got, want)} vs ${scale}`,
      );
    }
    assert.ok(
      maxAbsDiff(wasm.kronInvVec(g, dOut, dIn, eS, eA, lambda), ts.kronInvVec(g, dOut, dIn, eS, eA, lambda)) <
        1e-5 * scale,
    );
  }
  const e1 = ts.eighSym(new Float32Array([1]), 1);
  assert.throws(() => wasm.kronInvVec(new Float32Array(2), 2, 1, e1, e1, 0.1), /eigS.values must have 2×1/);
  assert.throws(() => ts.kronInvVec(new Float32Array(1), 1, 1, e1, e1, -1), /damping/);
});
