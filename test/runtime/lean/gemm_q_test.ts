/** Lean gemmQ (INT8 / INT4 group-quantized B), quantize and packInt4 against the reference and quant.ts. */
import assert from "node:assert/strict";
import { dequantize, packInt4, quantize, unpackInt4 } from "../../../src/linalg/quant.ts";
import { randn } from "../../_util.ts";
import { pair } from "./_harness.ts";

Deno.test("lean gemmQ: INT8 and INT4, B [k, n] and [n, k], aligned and ragged groups: WASM = reference = gemm on dequantize(B)", async () => {
  const p = await pair(32);
  for (const [m, n, k] of [[1, 1, 2], [3, 10, 6], [5, 17, 33], [33, 64, 96], [130, 72, 260]]) {
    for (const bits of [8, 4] as const) {
      for (const groupSize of [7, 32, 256]) {
        for (const transB of [false, true]) {
          p.reset();
          const q = quantize(randn(k * n, p.rand), { bits, groupSize });
          const a = p.rnd(m * k), bias = p.rnd(n), c = p.rnd(m * n), c2 = p.put(p.f32(c, m * n, "ref"));
          const codes = p.put(q.data),
            scales = p.put(q.scales),
            zeros = p.put(q.zeros),
            w = p.put(dequantize(q));
          const s = p.alloc(p.wasm.gemmQScratchBytes(m, n, k, transB));
          const label = `${m}×${n}×${k} int${bits} group ${groupSize} transB ${transB}`;
          p.both((kk) =>
            kk.gemmQ(a, codes, scales, zeros, c, bias, m, n, k, bits, groupSize, transB, 0.5, true, s)
          );
          p.close(c, m * n, label, 1e-5, 1e-5);
          // the same product through gemm on the dequantized matrix
          p.both((kk) => kk.gemm(a, w, c2, bias, m, n, k, false, transB, 1, 0, 0, 0, 0.5, true, s));
          p.close(c2, m * n, `${label} vs gemm(dequantize)`, 1e-5, 1e-5);
          const got = p.f32(c, m * n, "wasm"), want = p.f32(c2, m * n, "wasm");
          got.forEach((v, i) =>
            assert.ok(
              Math.abs(v - want[i]) <= 1e-4 * (1 + Math.abs(want[i])),
              `${label} at ${i}: ${v} vs ${want[i]}`,
            )
          );
        }
      }
    }
  }
});

Deno.test("lean packInt4: equals quant.ts packInt4 (odd lengths too) and round-trips", async () => {
  const p = await pair(1);
  for (const n of [1, 2, 7, 64, 1001]) {
    p.reset();
    const codes = Uint8Array.from({ length: n }, () => Math.floor(p.rand() * 16));
    const src = p.put(codes), out = p.junk(Math.ceil(n / 2));
    p.both((k) => k.packInt4(src, out, n));
    p.same(out, Math.ceil(n / 2), `packInt4 n=${n}`);
    const got = p.u8(out, Math.ceil(n / 2), "wasm");
    assert.deepEqual(got, packInt4(codes));
    assert.deepEqual(unpackInt4(got, n), codes);
  }
});

Deno.test("lean gatherRowsQ: rows of an INT8 / INT4 table (ragged groups) = rows of dequantize(table), WASM = reference", async () => {
  const p = await pair(8);
  for (const bits of [8, 4] as const) {
    for (const groupSize of [7, 64]) {
      p.reset();
      const [rows, len] = [11, 9], q = quantize(randn(rows * len, p.rand), { bits, groupSize });
      const full = dequantize(q), ids = [3, 0, 10, 3];
      const codes = p.put(q.data), scales = p.put(q.scales), zeros = p.put(q.zeros);
      const pi = p.put(Int32Array.from(ids)), out = p.junk(4 * ids.length * len);
      p.both((k) => k.gatherRowsQ(codes, scales, zeros, pi, out, ids.length, len, rows, bits, groupSize));
      const got = p.f32(out, ids.length * len, "wasm");
      ids.forEach((id, i) => {
        for (let j = 0; j < len; j++) {
          assert.ok(Math.abs(got[i * len + j] - full[id * len + j]) < 1e-6, `int${bits} row ${id} col ${j}`);
        }
      });
      p.close(out, ids.length * len, `int${bits} group ${groupSize}`, 1e-6, 1e-6);
    }
  }
});

Deno.test("lean quantize: INT8 and INT4, ragged groups and odd lengths: WASM = reference = linalg quantize, bit for bit", async () => {
  const p = await pair(1);
  for (const [bits, group, len] of [[8, 256, 1000], [8, 64, 64], [4, 64, 333], [4, 32, 1024]] as const) {
    p.reset();
    const x = p.rnd(len, -3, 2), groups = Math.ceil(len / group);
    const bytes = Math.ceil((groups * group * bits) / 8);
    const q = p.junk(bytes + 4), s = p.junk(4 * groups), z = p.junk(groups);
    p.both((k) => k.quantize(x, len, bits, group, q, s, z));
    const label = `bits ${bits}, group ${group}, ${len} values`;
    const want = quantize(p.f32(x, len, "wasm"), { bits, groupSize: group, stochastic: false });
    const n = bits === 8 ? len : Math.ceil(len / 2);
    assert.deepEqual(p.u8(q, n, "wasm"), want.data.subarray(0, n), `${label}: codes`);
    assert.deepEqual(p.f32(s, groups, "wasm"), want.scales, `${label}: scales`);
    assert.deepEqual(p.u8(z, groups, "wasm"), want.zeros, `${label}: zeros`);
    p.same(q, n, `${label}: codes (reference)`);
    p.same(s, 4 * groups, `${label}: scales (reference)`);
    p.same(z, groups, `${label}: zeros (reference)`);
  }
});
