/**
 * Linear-algebra kernel timings, WASM SIMD (wasm/kernels.wasm) vs the plain-TS references
 * (src/linalg/), on GPT-2-small shapes: svdTopR 768×3072 r=128 (GaLore projector refresh), eighSym
 * 768 (K-FAC factor), dctTopR 768×3072 r=128 (DCT-AdamW selection, basis 768; dense G·Q, and
 * dctTopRFft by fast DCT-IIIs), plus INT8
 * stochastic quantization of a 768×3072 tensor. Prints, never asserts.
 * Usage: deno task bench:kernels [--reps 3] [--skip-ts]
 * Last stdout line: one JSON object of median milliseconds.
 */
import { parseArgs } from "node:util";
import { loadKernels } from "../wasm/mod.ts";
import { type LinalgKernels, referenceKernels } from "../src/linalg/mod.ts";

const { values } = parseArgs({
  options: { reps: { type: "string", default: "3" }, "skip-ts": { type: "boolean", default: false } },
});
const reps = Number(values.reps);
const wasm = await loadKernels();
let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const matrix = (n: number) => Float32Array.from({ length: n }, rand);

function time(fn: () => unknown, n: number): number {
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)];
}

const [m, n, r] = [768, 3072, 128];
// a gradient-like matrix: decaying spectrum (rank-64 signal + noise)
const left = matrix(m * 64), right = matrix(64 * n), g = matrix(m * n);
for (let i = 0; i < m; i++) {
  for (let p = 0; p < 64; p++) {
    const w = left[i * 64 + p] / (1 + p);
    for (let j = 0; j < n; j++) g[i * n + j] += 0.5 * w * right[p * n + j];
  }
}
const x = matrix(768 * 48);
const sym = new Float32Array(768 * 768);
for (let i = 0; i < 768; i++) {
  for (let j = 0; j <= i; j++) {
    let s = 0;
    for (let t = 0; t < 48; t++) s += x[i * 48 + t] * x[j * 48 + t];
    sym[i * 768 + j] = sym[j * 768 + i] = s + (i === j ? 0.1 : 0);
  }
}
const basis = wasm.dctBasis(m);

const results: Record<string, number> = {};
const cases: [string, (k: LinalgKernels) => unknown, number][] = [
  ["svdTopR_768x3072_r128", (k) => k.svdTopR(g, m, n, r, { seed: 1 }), reps],
  ["eighSym_768", (k) => k.eighSym(sym, 768), reps],
  ["dctTopR_768x3072_r128", (k) => k.dctTopR(g, m, n, basis, r), reps],
  ["dctTopRFft_768x3072_r128", (k) => k.dctTopRFft(g, m, n, r), 5],
  ["quantize_int8_sr_768x3072", (k) => k.quantize(g, { bits: 8, stochastic: true, seed: 1 }), 5],
];
for (const [name, fn, n] of cases) {
  fn(wasm);
  const w = time(() => fn(wasm), n);
  results[`${name}_wasm_ms`] = Math.round(w * 10) / 10;
  let line = `${name.padEnd(28)} wasm ${w.toFixed(1).padStart(8)} ms`;
  if (!values["skip-ts"]) {
    const t = time(() => fn(referenceKernels), name.startsWith("svd") || name.startsWith("eigh") ? 1 : n);
    results[`${name}_ts_ms`] = Math.round(t * 10) / 10;
    line += `   ts ${t.toFixed(1).padStart(8)} ms   ×${(t / w).toFixed(1)}`;
  }
  console.log(line);
}
console.log(JSON.stringify(results));
