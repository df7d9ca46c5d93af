import assert from "node:assert/strict";
import { assertClose } from "../_util.ts";
import { type AdamMode, referenceKernels as ts } from "../../src/linalg/mod.ts";
import { both, randomMatrix, sameBytes, wasm } from "./_helpers.ts";

Deno.test("lowRankAdam: WASM equals TS bit for bit (lengths, modes, steps)", () => {
  for (const len of [1, 3, 4, 7, 1001]) {
    for (const mode of ["adamw", "galore", "none"] as AdamMode[]) {
      const mt = new Float32Array(len),
        vt = new Float32Array(len),
        mw = new Float32Array(len),
        vw = new Float32Array(len);
      for (let step = 1; step <= 4; step++) {
        const r = randomMatrix(len, 1, len * 10 + step);
        const o = { step, mode, beta1: 0.9, beta2: 0.95, eps: 1e-6 };
        const nt = ts.lowRankAdam(r, mt, vt, o), nw = wasm.lowRankAdam(r, mw, vw, o);
        assert.ok(
          sameBytes(nt, nw) && sameBytes(mt, mw) && sameBytes(vt, vw),
          `len ${len} ${mode} step ${step}`,
        );
      }
    }
  }
});

Deno.test("lowRankAdam equals the reference formulas over several steps (f64 recomputation)", () => {
  const len = 257, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  for (const [name, K] of both) {
    for (const mode of ["adamw", "galore", "none"] as AdamMode[]) {
      const m = new Float32Array(len), v = new Float32Array(len);
      const m64 = new Float64Array(len), v64 = new Float64Array(len);
      for (let t = 1; t <= 5; t++) {
        const r = randomMatrix(len, 1, 100 + t);
        const out = new Float32Array(len);
        const got = K.lowRankAdam(r, m, v, { step: t, mode, eps, out });
        assert.equal(got, out, "writes into opts.out");
        const bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
        const want = new Float64Array(len);
        for (let i = 0; i < len; i++) {
          m64[i] = b1 * m64[i] + (1 - b1) * r[i];
          v64[i] = b2 * v64[i] + (1 - b2) * r[i] * r[i];
          want[i] = mode === "adamw"
            ? (m64[i] / bc1) / (Math.sqrt(v64[i] / bc2) + eps) // m̂ / (√v̂ + ε)
            : mode === "galore"
            ? (Math.sqrt(bc2) / bc1) * m64[i] / (Math.sqrt(v64[i]) + eps) // adamw.py: η_t folded in
            : m64[i] / (Math.sqrt(v64[i]) + eps);
        }
        assertClose(m, m64, { atol: 1e-7, rtol: 1e-5, label: `${name} m` });
        assertClose(v, v64, { atol: 1e-9, rtol: 1e-5, label: `${name} v` });
        assertClose(got, want, { atol: 1e-6, rtol: 1e-5, label: `${name} ${mode} N step ${t}` });
      }
    }
  }
});

Deno.test("lowRankAdam: first AdamW step is ≈ sign(R); state shapes are checked", () => {
  const r = new Float32Array([0.5, -2, 1e-3, 0, 7]);
  for (const [name, K] of both) {
    const n = K.lowRankAdam(r, new Float32Array(5), new Float32Array(5), { step: 1 });
    assertClose(n, [1, -1, 1, 0, 1], { atol: 1e-4, label: name });
    assert.throws(
      () => K.lowRankAdam(r, new Float32Array(4), new Float32Array(5), { step: 1 }),
      /m must have 5/,
    );
    assert.throws(() => K.lowRankAdam(r, new Float32Array(5), new Float32Array(5), { step: 0 }), /step/);
    assert.throws(
      () => K.lowRankAdam(r, new Float32Array(5), new Float32Array(5), { step: 1, beta2: 1 }),
      /beta2/,
    );
  }
});
