/** 8-bit Adam moments: codes round-trip within their step, and 8-bit AdamW follows 32-bit AdamW. */
import assert from "node:assert/strict";
import { decodeMoment, encodeMoment, zeroMoment } from "../../src/optim/moments8.ts";
import { AdamW } from "../../src/optim/adamw.ts";
import { randn, rng } from "../_util.ts";

Deno.test("moments8: signed and non-negative moments round-trip with small relative error on large values", () => {
  const r = rng(1), n = 1000;
  const m = randn(n, r), v = Float32Array.from(randn(n, r), (x) => x * x * 1e-4);
  for (const [x, signed] of [[m, true], [v, false]] as const) {
    const q = zeroMoment(n, signed), back = new Float32Array(n);
    encodeMoment(q, x);
    decodeMoment(q, back);
    for (let i = 0; i < n; i++) {
      const block = Math.floor(i / 256), mx = q.scales[block];
      // √|x| (m) or ⁴√x (v) is linear in the code: at most half a step there, i.e. in x about
      // √(|x|·max)/127 (m) and 2·x^¾·max^¼/255 (v), plus the rounding of the smallest codes
      const a = Math.abs(x[i]), err = Math.abs(back[i] - x[i]);
      const bound = signed
        ? Math.sqrt(a * mx) / 127 + mx / 127 ** 2
        : (2 * a ** 0.75 * mx ** 0.25) / 255 + mx / 255 ** 4;
      assert.ok(err <= 1.01 * bound, `${signed ? "m" : "v"}[${i}]: ${x[i]} → ${back[i]} (bound ${bound})`);
    }
    assert.ok(q.codes.byteLength === n, "one byte per value");
  }
});

Deno.test("AdamW with 8-bit moments follows 32-bit AdamW on a least-squares problem, in a quarter of the state", () => {
  const r = rng(2), d = 300, rows = 40;
  const X = randn(rows * d, r), y = randn(rows, r);
  const run = (bits: 32 | 8) => {
    const w = new Map([["w", new Float32Array(d)]]);
    const opt = new AdamW({ weightDecay: 0, momentBits: bits });
    let loss = 0;
    for (let step = 0; step < 200; step++) {
      const g = new Float32Array(d), ww = w.get("w")!;
      loss = 0;
      for (let i = 0; i < rows; i++) {
        let p = 0;
        for (let j = 0; j < d; j++) p += X[i * d + j] * ww[j];
        const e = p - y[i];
        loss += e * e / rows;
        for (let j = 0; j < d; j++) g[j] += (2 * e * X[i * d + j]) / rows;
      }
      opt.update(w, new Map([["w", g]]), 1e-2);
    }
    return { loss, bytes: opt.stateBytes };
  };
  const f32 = run(32), q8 = run(8);
  assert.ok(
    q8.loss < 0.05 * run(32).loss + 1e-3 || Math.abs(q8.loss - f32.loss) < 0.1 * f32.loss + 1e-3,
    `8-bit ${q8.loss} vs 32-bit ${f32.loss}`,
  );
  assert.ok(q8.bytes * 3.5 < f32.bytes, `state ${q8.bytes} vs ${f32.bytes}`);
});
