import assert from "node:assert/strict";
import { assertClose } from "../_util.ts";
import { packInt4, type Quantized, referenceKernels as ts, unpackInt4 } from "../../src/linalg/mod.ts";
import { both, randomMatrix, sameBytes, wasm } from "./_helpers.ts";

const codes = (q: Quantized) => q.bits === 8 ? q.data : unpackInt4(q.data, q.length);

Deno.test("quantize/dequantize: WASM equals TS bit for bit (bits × rounding × group sizes)", () => {
  for (const bits of [4, 8] as const) {
    for (const stochastic of [false, true]) {
      for (const [len, groupSize] of [[1024, 256], [1031, 256], [1001, 64], [999, 6], [7, 3], [1, 256]]) {
        const x = randomMatrix(len, 1, len + groupSize);
        const o = { bits, stochastic, groupSize, seed: 42 };
        const [t, w] = [ts.quantize(x, o), wasm.quantize(x, o)];
        const label = `${bits}-bit ${stochastic ? "SR" : "RN"} ${len}/${groupSize}`;
        assert.ok(sameBytes(t.data, w.data), `${label} codes`);
        assert.ok(sameBytes(t.scales, w.scales) && sameBytes(t.zeros, w.zeros), `${label} scales/zeros`);
        assert.ok(sameBytes(ts.dequantize(t), wasm.dequantize(w)), `${label} dequantize`);
        assert.equal(w.data.length, bits === 8 ? len : Math.ceil(len / 2));
        assert.equal(w.scales.length, Math.ceil(len / groupSize));
      }
    }
  }
});

Deno.test("quantize: the official formulas on hand-checked values (half-to-even, zero point)", () => {
  for (const [name, K] of both) {
    // 4 bits, one group: min −8, max 7 → s = 1, z = 8; round(0.5) = 0, round(1.5) = round(2.5) = 2
    const q = K.quantize(new Float32Array([-8, 7, 0.5, 1.5, 2.5]), { bits: 4, groupSize: 5 });
    assert.deepEqual(Array.from(codes(q)), [0, 15, 8, 10, 10], name);
    assert.deepEqual([q.scales[0], q.zeros[0]], [1, 8]);
    assert.deepEqual(Array.from(K.dequantize(q)), [-8, 7, 0, 2, 2]);
    // a constant group: s = 1e-5 / 255 (clamped range), every code = z
    const c = K.quantize(new Float32Array([0, 0, 0, 0]), { groupSize: 4 });
    assert.equal(c.scales[0], Math.fround(Math.fround(1e-5) / 255));
    assert.deepEqual(Array.from(K.dequantize(c)), [0, 0, 0, 0]);
    // official quirk: an all-positive group has z clamped to 0 and saturates at 2^b − 1
    const p = K.quantize(new Float32Array([1, 2]), { groupSize: 2 });
    assert.deepEqual([p.zeros[0], ...codes(p)], [0, 255, 255]);
  }
});

Deno.test("round-to-nearest is deterministic and within s/2; stochastic codes are floor or ceil", () => {
  const x = randomMatrix(2048, 1, 5);
  for (const bits of [4, 8] as const) {
    for (const [name, K] of both) {
      const a = K.quantize(x, { bits, seed: 1 }), b = K.quantize(x, { bits, seed: 999 });
      assert.ok(sameBytes(a.data, b.data), `${name}: RN ignores the seed`);
      const back = K.dequantize(a), sr = K.dequantize(K.quantize(x, { bits, stochastic: true, seed: 3 }));
      for (let i = 0; i < x.length; i++) {
        const s = a.scales[Math.floor(i / 256)];
        assert.ok(Math.abs(back[i] - x[i]) <= s / 2 + 1e-6, `${name} RN error at ${i}`);
        assert.ok(Math.abs(sr[i] - x[i]) < s + 1e-6, `${name} SR error at ${i}`);
      }
      const s1 = K.quantize(x, { bits, stochastic: true, seed: 1 }),
        s2 = K.quantize(x, { bits, stochastic: true, seed: 2 });
      assert.ok(
        sameBytes(s1.data, K.quantize(x, { bits, stochastic: true, seed: 1 }).data),
        "SR repeats per seed",
      );
      assert.ok(!sameBytes(s1.data, s2.data), "SR differs across seeds");
    }
  }
});

Deno.test("stochastic rounding is unbiased over seeds; round-to-nearest is not", () => {
  // values a fixed fraction 0.3 of a step above the grid: RN is off by 0.3·s every time. Each group
  // is anchored by −1 and 1 (s = 2/255, z = 128), which are left out: the group maximum can saturate
  // at 255, an inherent bias of the min-max quantizer, not of the rounding.
  const groupSize = 256, n = 512, seeds = 400, s = 2 / 255;
  const x = Float32Array.from({ length: n }, (_, i) => Math.fround(s * ((i % 200) - 100 + 0.3)));
  const anchor = (i: number) => i % groupSize < 2;
  for (let i = 0; i < n; i++) if (anchor(i)) x[i] = i % groupSize === 0 ? -1 : 1;
  for (const [name, K] of both) {
    const mean = new Float64Array(n);
    for (let seed = 0; seed < seeds; seed++) {
      const d = K.dequantize(K.quantize(x, { bits: 8, stochastic: true, seed, groupSize }));
      for (let i = 0; i < n; i++) mean[i] += d[i] / seeds;
    }
    const rn = K.dequantize(K.quantize(x, { bits: 8, groupSize }));
    let srBias = 0, rnBias = 0, worst = 0;
    const count = n - 4;
    for (let i = 0; i < n; i++) {
      if (anchor(i)) continue;
      srBias += (mean[i] - x[i]) / count;
      rnBias += (rn[i] - x[i]) / count;
      worst = Math.max(worst, Math.abs(mean[i] - x[i]));
    }
    // per-element std of the mean = s·√(0.21/400) ≈ 0.023 s; 6.5σ bound on the worst of 508
    assert.ok(worst < 0.15 * s, `${name}: worst per-element bias ${worst / s} s`);
    assert.ok(Math.abs(srBias) < 0.01 * s, `${name}: mean SR bias ${srBias / s} s`);
    assert.ok(Math.abs(rnBias + 0.3 * s) < 0.01 * s, `${name}: RN bias ${rnBias / s} s (expected −0.3 s)`);
  }
});

Deno.test("INT4 pack/unpack round trip and packed layout", () => {
  const rand = randomMatrix(1001, 1, 8);
  const nibbles = Uint8Array.from(rand, (v) => Math.floor((v + 1) * 8));
  assert.ok(sameBytes(unpackInt4(packInt4(nibbles), nibbles.length), nibbles));
  assert.deepEqual(Array.from(packInt4(new Uint8Array([1, 2, 3]))), [0x21, 0x03]);
  assert.throws(() => packInt4(new Uint8Array([16])), /does not fit 4 bits/);
  const x = randomMatrix(515, 1, 9);
  for (const [name, K] of both) {
    const q = K.quantize(x, { bits: 4, groupSize: 128 });
    const un = unpackInt4(q.data, q.length);
    assert.ok(sameBytes(packInt4(un), q.data), name);
    const back = K.dequantize(q);
    for (let i = 0; i < x.length; i++) {
      const g = Math.floor(i / 128);
      assert.equal(back[i], Math.fround((un[i] - q.zeros[g]) * q.scales[g]));
    }
    assertClose(back, x, { atol: Math.max(...q.scales) / 2 + 1e-6, rtol: 0, label: name });
  }
});

Deno.test("quantize: argument errors", () => {
  for (const [, K] of both) {
    assert.throws(() => K.quantize(new Float32Array([1, NaN])), /x\[1\] is not finite/);
    assert.throws(() => K.quantize(new Float32Array([1]), { bits: 3 as 4 }), /bits must be 4 or 8/);
    assert.throws(() => K.quantize(new Float32Array([1]), { groupSize: 0 }), /groupSize/);
    const q = K.quantize(new Float32Array(10), { bits: 4 });
    assert.throws(() => K.dequantize({ ...q, data: new Uint8Array(4) }), /data must have 5 bytes/);
  }
});
