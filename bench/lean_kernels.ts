/**
 * Lean backend kernel throughput (wasm/lean_*.rs, single thread) beside the plain-TS reference and
 * onnxruntime-web at 1 thread in the same run: GEMM NN / NT / TN on transformer shapes against
 * ORT-web MatMul (B baked in as a weight), gemmQ INT8 / INT4, fused attention fwd / bwd and fused
 * LM-head cross-entropy fwd / bwd against the unfused IR (causalAttention, matmul + crossEntropySum,
 * with their VJPs) on ORT-web. GFLOP/s = useful flops / best process CPU time over the reps (the
 * machine is shared, CPU time is steadier than wall time); `wall` is the median wall time. The task
 * runs V8 with --no-liftoff: every wasm function (ours and onnxruntime's) is compiled optimised up
 * front, so no measurement catches a kernel still on V8's baseline tier.
 * Usage: deno task bench:lean-kernels [--reps 3] [--full] [--skip-ort] [--skip-ref] [--only gemm,attention,…]
 * Last stdout line: one JSON object of GFLOP/s.
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { grad } from "../src/graph/autodiff.ts";
import type { Tensor } from "../src/graph/ir.ts";
import { input, matmul, mul, reduceSum, transposeLast } from "../src/graph/ops.ts";
import { causalAttention, crossEntropySum, repeatKv } from "../src/graph/nn.ts";
import { lowerGraph } from "../src/graph/lower.ts";
import { createSession, type HostTensor } from "../src/runtime/session.ts";
import { instantiateLean, type LeanKernels } from "../src/runtime/lean/kernels.ts";
import { ReferenceLeanKernels } from "../src/runtime/lean/reference.ts";
import { quantize } from "../src/linalg/quant.ts";
import { SHAPES } from "./shapes.ts";

const { values } = parseArgs({
  options: {
    reps: { type: "string", default: "3" },
    full: { type: "boolean", default: false },
    "skip-ort": { type: "boolean", default: false },
    "skip-ref": { type: "boolean", default: false },
    only: { type: "string", default: "gemm,gemmq,attention,ce" },
  },
});
const reps = Number(values.reps), only = new Set(values.only.split(","));
const results: Record<string, number> = {};

const { kernels: lean, memory } = await instantiateLean();
const base = lean.heapBase();
memory.grow(Math.ceil((base + (400 << 20) - memory.buffer.byteLength) / 65536));
const ref = new ReferenceLeanKernels(memory, base);
let top = base;
const alloc = (bytes: number) => {
  const p = (top + 63) & ~63;
  top = p + bytes;
  if (top > memory.buffer.byteLength) throw new Error(`bench arena too small at ${top} bytes`);
  return p;
};
let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const randf = (n: number) => Float32Array.from({ length: n }, rand);
const put = (data: Float32Array | Int32Array | Uint8Array) => {
  const p = alloc(data.byteLength);
  new Uint8Array(memory.buffer, p, data.byteLength).set(
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  );
  return p;
};
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Best CPU ms and median wall ms per call over `n` samples (each ≥ ~50 ms of calls) after a warm-up. */
async function time(fn: () => unknown, n = reps): Promise<{ cpu: number; wall: number }> {
  // warm-up: V8 runs a wasm function on its baseline tier (Liftoff) until the optimised code is
  // ready, so call it at least twice and for ~0.5 s (up to 8 calls) before measuring
  const w0 = performance.now();
  let calls = 0, last = 0;
  while (calls < 2 || (performance.now() - w0 < 500 && calls < 8)) {
    const t0 = performance.now();
    await fn();
    last = performance.now() - t0;
    calls++;
  }
  const inner = Math.max(1, Math.min(1000, Math.ceil(50 / Math.max(last, 1e-3))));
  const cpu: number[] = [], wall: number[] = [];
  for (let i = 0; i < n; i++) {
    const [c0, t0] = [cpuMs(), performance.now()];
    for (let j = 0; j < inner; j++) await fn();
    cpu.push((cpuMs() - c0) / inner);
    wall.push((performance.now() - t0) / inner);
  }
  return { cpu: Math.max(Math.min(...cpu), 1e-4), wall: wall.sort((a, b) => a - b)[Math.floor(n / 2)] };
}
const gf = (flops: number, ms: number) => flops / ms / 1e6;
const fmt = (x: number) => x.toFixed(1).padStart(6);

/** A session of `outputs` on onnxruntime-web with 1 thread; returns a runner over fixed feeds. */
async function ortRunner(
  outputs: Record<string, Tensor>,
  feeds: Record<string, HostTensor>,
  init?: Map<string, Float32Array>,
) {
  const s = await createSession(lowerGraph(outputs, { initializers: init }).bytes, {
    backend: "wasm",
    threads: 1,
  });
  return { run: () => s.run(feeds), release: () => s.release() };
}
const f32t = (data: Float32Array, shape: number[]): HostTensor => ({ dtype: "float32", shape, data });

async function row(
  name: string,
  flops: number,
  leanFn: () => void,
  others: [string, (() => unknown) | null][],
) {
  const t = await time(leanFn);
  results[`${name}_lean`] = Math.round(gf(flops, t.cpu) * 10) / 10;
  let line = `${name.padEnd(34)} lean ${fmt(gf(flops, t.cpu))} GF/s (wall ${t.wall.toFixed(2)} ms)`;
  for (const [label, fn] of others) {
    if (!fn) continue;
    const o = await time(fn, label === "ref" ? 1 : reps);
    results[`${name}_${label}`] = Math.round(gf(flops, o.cpu) * 100) / 100;
    line += `   ${label} ${fmt(gf(flops, o.cpu))} (×${(o.cpu / t.cpu).toFixed(1)})`;
  }
  console.log(line);
}

if (only.has("gemm")) {
  console.log("— GEMM: C = A·B (NN), A·Bᵀ (NT), Aᵀ·B (TN); ORT-web MatMul NN, 1 thread, B as a weight");
  const pairs = values.full
    ? [256, 576, 768, 1536, 3072].flatMap((k) => [256, 576, 768, 1536, 3072].map((n) => [k, n]))
    : [[256, 256], [576, 576], [768, 768], [1536, 1536], [576, 1536], [1536, 576], [768, 3072], [3072, 768]];
  for (const m of [128, 512, 1024]) {
    for (const [k, n] of pairs) {
      top = base;
      const a = put(randf(m * k)), bData = randf(k * n), b = put(bData), c = alloc(4 * m * n);
      const s = alloc(lean.gemmScratchBytes(m, n, k, false, false)), flops = 2 * m * n * k;
      let ort: Awaited<ReturnType<typeof ortRunner>> | null = null;
      if (!values["skip-ort"]) {
        const at = input("a", "float32", [m, k]), bt = input("b", "float32", [k, n]);
        const aData = new Float32Array(memory.buffer, a, m * k).slice();
        ort = await ortRunner({ y: matmul(at, bt) }, { a: f32t(aData, [m, k]) }, new Map([["b", bData]]));
      }
      const refFn = !values["skip-ref"] && m === 128 && k === 256 && n === 256
        ? () => ref.gemm(a, b, c, 0, m, n, k, false, false, 1, 0, 0, 0, 1, false, s)
        : null;
      for (const [tag, ta, tb] of [["NN", false, false], ["NT", false, true], ["TN", true, false]] as const) {
        const fn = () => lean.gemm(a, b, c, 0, m, n, k, ta, tb, 1, 0, 0, 0, 1, false, s);
        await row(
          `gemm_${tag}_${m}x${k}x${n}`,
          flops,
          fn,
          tag === "NN" ? [["ort", ort?.run ?? null], ["ref", refFn]] : [],
        );
      }
      await ort?.release();
    }
  }
}

if (only.has("gemmq")) {
  console.log(
    "— gemmQ: A·Bᵀ (forward, B [n, k]) and A·B (backward, B [k, n]) with INT8 / INT4 B, group 256; vs f32 gemm",
  );
  for (const [m, k, n] of [[512, 576, 1536], [512, 1536, 576], [512, 768, 3072], [128, 768, 768]]) {
    top = base;
    const a = put(randf(m * k)), c = alloc(4 * m * n), w = randf(k * n), wf = put(w), flops = 2 * m * n * k;
    const s = alloc(lean.gemmQScratchBytes(m, n, k, true));
    for (const bits of [8, 4] as const) {
      const q = quantize(w, { bits, groupSize: 256 });
      const codes = put(q.data), scales = put(q.scales), zeros = put(q.zeros);
      for (const transB of [true, false]) {
        const fn = () => lean.gemmQ(a, codes, scales, zeros, c, 0, m, n, k, bits, 256, transB, 1, false, s);
        const dense = () => lean.gemm(a, wf, c, 0, m, n, k, false, transB, 1, 0, 0, 0, 1, false, s);
        await row(`gemmQ${bits}_${transB ? "NT" : "NN"}_${m}x${k}x${n}`, flops, fn, [["f32gemm", dense]]);
      }
    }
  }
}

/** Fused attention fwd / bwd on a model shape vs the IR on ORT-web (repeat_kv + softmax + matmuls). */
async function attention(name: string, b: number, h: number, kvh: number, t: number, e: number) {
  top = base;
  const [nq, nk] = [b * h * t * e, b * kvh * t * e];
  const qd = randf(nq), kd = randf(nk), vd = randf(nk), gd = randf(nq);
  const q = put(qd), k = put(kd), v = put(vd), g = put(gd), out = alloc(4 * nq), lse = alloc(4 * b * h * t);
  const dq = alloc(4 * nq), dk = alloc(4 * nk), dv = alloc(4 * nk);
  const s = alloc(
    Math.max(
      lean.attentionScratchBytes(b, h, kvh, t, t, e),
      lean.attentionBackwardScratchBytes(b, h, kvh, t, t, e),
    ),
  );
  const scale = 1 / Math.sqrt(e), pairsCausal = b * h * (t * (t + 1)) / 2;
  const fwd = (kk: LeanKernels) => () => kk.attention(q, k, v, 0, out, lse, b, h, kvh, t, t, e, scale, 0, s);
  const bwd = (kk: LeanKernels) => () =>
    kk.attentionBackward(g, q, k, v, 0, out, lse, dq, dk, dv, b, h, kvh, t, t, e, scale, 0, s);
  let ortF: (() => unknown) | null = null, ortB: (() => unknown) | null = null, rel = async () => {};
  if (!values["skip-ort"]) {
    const qt = input("q", "float32", [b, h, t, e]), kt = input("k", "float32", [b, kvh, t, e]);
    const vt = input("v", "float32", [b, kvh, t, e]), gt = input("g", "float32", [b, h, t, e]);
    const o = causalAttention(qt, repeatKv(kt, h / kvh), repeatKv(vt, h / kvh));
    const feeds = {
      q: f32t(qd, [b, h, t, e]),
      k: f32t(kd, [b, kvh, t, e]),
      v: f32t(vd, [b, kvh, t, e]),
      g: f32t(gd, [b, h, t, e]),
    };
    const [gq, gk, gv] = grad(reduceSum(mul(o, gt), [0, 1, 2, 3]), [qt, kt, vt]);
    const f = await ortRunner({ o }, feeds), fb = await ortRunner({ o, gq: gq!, gk: gk!, gv: gv! }, feeds);
    [ortF, ortB, rel] = [f.run, fb.run, async () => (await f.release(), await fb.release())];
  }
  fwd(lean)();
  // useful flops: QKᵀ and PV over the causal half (fwd); + recomputed S, dP, dV, dK, dQ (bwd)
  await row(`attention_fwd_${name}`, 4 * pairsCausal * e, fwd(lean), [["ort", ortF], [
    "ref",
    values["skip-ref"] || t > 256 ? null : fwd(ref),
  ]]);
  await row(`attention_bwd_${name}`, 10 * pairsCausal * e, bwd(lean), [["ort+fwd", ortB]]);
  await rel();
}

/** Fused LM head + cross-entropy vs the IR (matmul + crossEntropySum, and its VJP) on ORT-web. */
async function ce(name: string, rows: number, d: number, vocab: number, chunk: number) {
  top = base;
  const hd = randf(rows * d), wd = randf(vocab * d).map((x) => x * 0.05);
  const labels = Int32Array.from({ length: rows }, (_, r) => (r * 7919) % vocab);
  const h = put(hd),
    w = put(wd),
    y = put(labels),
    loss = alloc(4),
    dh = alloc(4 * rows * d),
    dw = alloc(4 * vocab * d);
  const s = alloc(lean.crossEntropyScratchBytes(chunk, vocab, d)), flops = 2 * rows * d * vocab;
  const fwd = (k: LeanKernels) => () => k.crossEntropy(h, w, y, loss, rows, d, vocab, chunk, true, s);
  const bwd = () => lean.crossEntropyBackward(1, h, w, y, dh, dw, rows, d, vocab, chunk, true, false, s);
  let ortF: (() => unknown) | null = null, ortB: (() => unknown) | null = null, rel = async () => {};
  if (!values["skip-ort"]) {
    const ht = input("h", "float32", [rows, d]),
      wt = input("w", "float32", [vocab, d]),
      yt = input("y", "int64", [rows]);
    const { sum } = crossEntropySum(matmul(ht, transposeLast(wt)), yt);
    const [gh, gw] = grad(sum, [ht, wt]);
    const feeds: Record<string, HostTensor> = {
      h: f32t(hd, [rows, d]),
      w: f32t(wd, [vocab, d]),
      y: { dtype: "int64", shape: [rows], data: BigInt64Array.from(labels, BigInt) },
    };
    const f = await ortRunner({ sum }, feeds), fb = await ortRunner({ sum, gh: gh!, gw: gw! }, feeds);
    [ortF, ortB, rel] = [f.run, fb.run, async () => (await f.release(), await fb.release())];
  }
  const small = rows * d * vocab < 3e6;
  await row(`ce_fwd_${name}`, flops, fwd(lean), [["ort", ortF], [
    "ref",
    values["skip-ref"] || !small ? null : fwd(ref),
  ]]);
  await row(`ce_bwd_${name}`, 3 * flops, bwd, [["ort+fwd", ortB]]);
  await rel();
}

if (only.has("attention")) {
  console.log("— attention (causal, fused; ORT-web runs the unfused IR); ref on small shapes only");
  await attention("B1_H2_T64_E32", 1, 2, 2, 64, 32);
  for (const [name, [, , d, heads, kvh, , , seq, batch]] of Object.entries(SHAPES)) {
    await attention(`${name}_B${batch}_H${heads}/${kvh}_T${seq}`, batch, heads, kvh, seq, d / heads);
  }
  await attention("long_B1_H12_T1024_E64", 1, 12, 12, 1024, 64);
}

/** Rows per chunk whose logits fit 16 MiB (W is re-packed once per chunk: bigger chunks amortise it). */
const chunkFor = (rows: number, vocab: number) =>
  Math.max(1, Math.min(rows, Math.floor((16 << 20) / (4 * vocab))));

if (only.has("ce")) {
  console.log(
    "— LM head + cross-entropy (fused, chunk = rows whose logits fit 16 MiB; ORT-web runs matmul + crossEntropySum)",
  );
  await ce("small_16x32x256", 16, 32, 256, chunkFor(16, 256));
  for (const [name, [, , d, , , , vocab, seq, batch]] of Object.entries(SHAPES)) {
    const rows = batch * seq;
    await ce(
      `${name}_${rows}x${d}x${vocab}_chunk${chunkFor(rows, vocab)}`,
      rows,
      d,
      vocab,
      chunkFor(rows, vocab),
    );
  }
}

console.log(JSON.stringify(results));
