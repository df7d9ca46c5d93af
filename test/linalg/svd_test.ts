import assert from "node:assert/strict";
import { assertClose } from "../_util.ts";
import { referenceKernels as ts, type SvdMethod, svdMethod } from "../../src/linalg/mod.ts";
import {
  both,
  denseSvd,
  frob,
  matmul,
  maxAbsDiff,
  orthError,
  randomMatrix,
  sameBytes,
  subspaceGap,
  transpose,
  wasm,
  withSpectrum,
} from "./_helpers.ts";

const METHODS: SvdMethod[] = ["randomized", "gram"];

/** ‖A − U diag(S) Vt‖_F / ‖A‖_F. */
function reconError(
  a: Float32Array,
  m: number,
  n: number,
  r: number,
  f: { u: Float32Array; s: Float32Array; vt: Float32Array },
) {
  const us = Float64Array.from(f.u, (x, i) => x * f.s[i % r]);
  const rec = matmul(us, f.vt, m, r, n);
  return frob(Float64Array.from(rec, (x, i) => x - a[i])) / frob(a);
}

Deno.test("qrOrthonormalize: Q orthonormal, R upper, QR = A; WASM equals TS", () => {
  for (const [m, k] of [[50, 12], [7, 7], [33, 5], [9, 1]]) {
    const a = randomMatrix(m, k, m * 100 + k);
    const got = both.map(([, K]) => K.qrOrthonormalize(a, m, k));
    for (const { q, r } of got) {
      assert.ok(orthError(q, m, k) < 1e-6, `orth ${m}×${k}`);
      for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) assert.equal(r[i * k + j], 0);
      assertClose(matmul(q, r, m, k, k), a, { atol: 1e-5, rtol: 1e-5, label: "QR = A" });
    }
    assert.ok(maxAbsDiff(got[0].q, got[1].q) < 1e-6 && maxAbsDiff(got[0].r, got[1].r) < 1e-5);
  }
});

Deno.test("qrOrthonormalize: rank-deficient columns are replaced, Q stays orthonormal", () => {
  const [m, k] = [20, 5];
  const a = randomMatrix(m, k, 3);
  for (let i = 0; i < m; i++) {
    a[i * k + 2] = a[i * k + 0]; // duplicate of column 0
    a[i * k + 4] = 0; // zero column
  }
  for (const [name, K] of both) {
    const { q, r } = K.qrOrthonormalize(a, m, k, { seed: 9 });
    assert.ok(orthError(q, m, k) < 1e-6, name);
    assert.ok(Math.abs(r[2 * k + 2]) < 1e-6 && r[4 * k + 4] === 0, `${name}: tiny R diagonal`);
    assertClose(matmul(q, r, m, k, k), a, { atol: 1e-5, label: `${name} QR = A` });
  }
  assert.throws(() => wasm.qrOrthonormalize(a.subarray(0, 20), 4, 5), /k must be ≤ m/);
});

for (const method of METHODS) {
  Deno.test(`svdTopR ${method}: a rank-r matrix is reconstructed exactly, U and V orthonormal`, () => {
    for (const [m, n, r] of [[60, 45, 6], [30, 80, 4], [17, 17, 17], [70, 20, 16]]) {
      const left = randomMatrix(m, r, 1), right = randomMatrix(r, n, 2);
      const a = Float32Array.from(matmul(left, right, m, r, n));
      for (const [name, K] of both) {
        const f = K.svdTopR(a, m, n, r, { seed: 5, method });
        assert.ok(reconError(a, m, n, r, f) < 2e-6, `${name} ${m}×${n} r=${r}: ${reconError(a, m, n, r, f)}`);
        assert.ok(orthError(f.u, m, r) < 2e-6, `${name} U`);
        assert.ok(orthError(transpose(f.vt, r, n), n, r) < 2e-6, `${name} V`);
        for (let j = 1; j < r; j++) assert.ok(f.s[j] <= f.s[j - 1]);
      }
    }
  });

  Deno.test(`svdTopR ${method}: singular values and vectors match a known spectrum`, () => {
    for (const [m, n] of [[70, 40], [40, 70]]) {
      const r = 8, sigma = Array.from({ length: 40 }, (_, i) => 10 * 0.7 ** i);
      const { a, u: uTrue, v: vTrue } = withSpectrum(m, n, sigma, 11);
      for (const [name, K] of both) {
        const f = K.svdTopR(a, m, n, r, { seed: 1, method });
        assertClose(f.s, sigma.slice(0, r), { atol: 1e-4, rtol: 1e-5, label: `${name} S` });
        for (let j = 0; j < r; j++) {
          let cu = 0, cv = 0;
          for (let i = 0; i < m; i++) cu += f.u[i * r + j] * uTrue[i * 40 + j];
          for (let i = 0; i < n; i++) cv += f.vt[j * n + i] * vTrue[i * 40 + j];
          assert.ok(
            Math.abs(Math.abs(cu) - 1) < 1e-4 && Math.abs(cu - cv) < 1e-4,
            `${name} ${m}×${n} vector ${j}: ${cu} ${cv}`,
          );
        }
      }
    }
  });

  Deno.test(`svdTopR ${method}: WASM equals the TS reference; deterministic per seed; sign convention`, () => {
    const [m, n, r] = [48, 96, 10];
    const sigma = Array.from({ length: 48 }, (_, i) => 1 / (1 + i));
    const { a } = withSpectrum(m, n, sigma, 21);
    const w = wasm.svdTopR(a, m, n, r, { seed: 7, method }), t = ts.svdTopR(a, m, n, r, { seed: 7, method });
    assertClose(w.s, t.s, { atol: 1e-6, rtol: 1e-5, label: "S" });
    assert.ok(maxAbsDiff(w.u, t.u) < 2e-4 && maxAbsDiff(w.vt, t.vt) < 2e-4, `${maxAbsDiff(w.u, t.u)}`);
    const again = wasm.svdTopR(a, m, n, r, { seed: 7, method });
    assert.ok(sameBytes(w.u, again.u) && sameBytes(w.s, again.s) && sameBytes(w.vt, again.vt));
    const other = wasm.svdTopR(a, m, n, r, { seed: 8, oversample: 4, powerIters: 3, method });
    assertClose(other.s, w.s, { atol: 1e-4, rtol: 1e-3, label: "S other seed" });
    for (let j = 0; j < r; j++) {
      let at = 0;
      for (let i = 1; i < m; i++) if (Math.abs(w.u[i * r + j]) > Math.abs(w.u[at * r + j])) at = i;
      assert.ok(w.u[at * r + j] > 0, `largest |U[:, ${j}]| entry positive`);
    }
  });

  Deno.test(`svdTopR ${method}: r above the rank still gives orthonormal factors and zero tail values`, () => {
    for (const [m, n] of [[25, 30], [30, 25]]) {
      const [rank, r] = [3, 6];
      const a = Float32Array.from(matmul(randomMatrix(m, rank, 4), randomMatrix(rank, n, 5), m, rank, n));
      for (const [name, K] of both) {
        const f = K.svdTopR(a, m, n, r, { seed: 2, method });
        assert.ok(orthError(f.u, m, r) < 1e-5 && orthError(transpose(f.vt, r, n), n, r) < 1e-5, name);
        for (let j = rank; j < r; j++) assert.ok(f.s[j] < 1e-5 * f.s[0], `${name} s[${j}] = ${f.s[j]}`);
        assert.ok(reconError(a, m, n, r, f) < 2e-6);
      }
    }
  });

  Deno.test(`svdTopR ${method}: agrees with a dense Jacobi SVD (values, subspaces) on WASM and TS`, () => {
    // a decaying spectrum with a gap after r, the regime of gradient refreshes
    for (const [m, n, r] of [[96, 64, 24], [64, 96, 24], [40, 40, 30]]) {
      const k = Math.min(m, n);
      const sigma = Array.from({ length: k }, (_, i) => (i < r ? 5 * 0.9 ** i : 0.05 * 0.9 ** i));
      const { a } = withSpectrum(m, n, sigma, 31);
      const ref = denseSvd(a, m, n);
      for (const [name, K] of both) {
        const f = K.svdTopR(a, m, n, r, { seed: 3, method });
        assertClose(f.s, ref.s.slice(0, r), { atol: 1e-5, rtol: 1e-5, label: `${name} ${m}×${n} S` });
        const gu = subspaceGap(f.u, r, ref.u, k, m, r),
          gv = subspaceGap(transpose(f.vt, r, n), r, ref.v, k, n, r);
        assert.ok(gu < 1e-5 && gv < 1e-5, `${name} ${m}×${n}: subspace gaps ${gu} ${gv}`);
        assert.ok(orthError(f.u, m, r) < 1e-6 && orthError(transpose(f.vt, r, n), n, r) < 1e-6);
      }
    }
  });
}

Deno.test("svdTopR: the randomized and Gram paths agree on a GaLore-sized gradient (WASM)", () => {
  // 128×384, r = 48, a decaying spectrum with a 10× drop after r: the randomized path's subspace
  // error is ~(σ_{r+p+1}/σ_r)^(2q+1) (Halko et al. Thm. 10.8), the Gram path's ε₆₄-exact
  const [m, n, r] = [128, 384, 48];
  const sigma = Array.from({ length: m }, (_, i) => (i < r ? 3 : 0.3) * 0.9 ** i);
  const { a } = withSpectrum(m, n, sigma, 41);
  const g = wasm.svdTopR(a, m, n, r, { method: "gram" }),
    q = wasm.svdTopR(a, m, n, r, { method: "randomized" });
  assertClose(q.s, g.s, { atol: 1e-7, rtol: 1e-5, label: "S" });
  assertClose(g.s, sigma.slice(0, r), { atol: 1e-7, rtol: 1e-6, label: "S vs truth" });
  assert.ok(subspaceGap(q.u, r, g.u, r, m, r) < 1e-4, `U gap ${subspaceGap(q.u, r, g.u, r, m, r)}`);
  for (const f of [g, q]) {
    assert.ok(orthError(f.u, m, r) < 1e-6 && orthError(transpose(f.vt, r, n), n, r) < 1e-6);
  }
});

Deno.test("svdTopR: the sparse sign sketch is the same in WASM and TS (q = 0 exposes it)", () => {
  // without power iterations the result depends on Ω: a flat spectrum makes any mismatch visible
  const [m, n, r] = [60, 90, 12];
  const a = randomMatrix(m, n, 51);
  const opts = { seed: 4, powerIters: 0, method: "randomized" as const };
  const w = wasm.svdTopR(a, m, n, r, opts), t = ts.svdTopR(a, m, n, r, opts);
  assertClose(w.s, t.s, { atol: 1e-5, rtol: 1e-5, label: "S" });
  assert.ok(maxAbsDiff(w.u, t.u) < 1e-4, `U ${maxAbsDiff(w.u, t.u)}`);
  const other = ts.svdTopR(a, m, n, r, { ...opts, seed: 5 });
  assert.ok(maxAbsDiff(other.s, t.s) > 1e-3, "another seed gives another sketch");
});

Deno.test("svdMethod: the Gram path for a large r share of min(m, n), randomized otherwise", () => {
  assert.equal(svdMethod(192, 576, 128, 136, 2), "gram");
  for (
    const [m, n] of [[768, 2304], [768, 768], [768, 3072], [3072, 768], [576, 576], [1536, 576], [576, 1536]]
  ) {
    assert.equal(svdMethod(m, n, 128, 136, 2), "randomized", `${m}×${n}`);
  }
  assert.equal(svdMethod(12, 7, 3, 7, 2), "gram");
});

Deno.test("svdTopR: argument errors", () => {
  const a = randomMatrix(4, 5, 1);
  for (const [, K] of both) {
    assert.throws(() => K.svdTopR(a, 4, 5, 5), /r must be an integer in \[1, min\(m, n\) = 4\]/);
    assert.throws(() => K.svdTopR(a, 5, 5, 2), /a must have 5×5 = 25 elements/);
    assert.throws(() => K.svdTopR(a, 4, 5, 2, { powerIters: -1 }), /powerIters/);
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => K.svdTopR(a, 4, 5, 2, { method: "exact" as any }),
      /method must be auto, randomized or gram/,
    );
  }
});
