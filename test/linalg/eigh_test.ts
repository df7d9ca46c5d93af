import assert from "node:assert/strict";
import { assertClose } from "../_util.ts";
import type { Eigh } from "../../src/linalg/mod.ts";
import { both, matmul, maxAbsDiff, orthError, randomMatrix } from "./_helpers.ts";

function symmetric(n: number, seed: number): Float32Array {
  const b = randomMatrix(n, n, seed), a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
  return a;
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
