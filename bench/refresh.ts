/**
 * Projector-refresh cost per matrix: our WASM randomized top-r SVD (GaLore / Q-GaLore refresh) and
 * DCT top-r selection vs torch.linalg.svd's thin full SVD (bench/torch_svd.py, 2 threads), on the
 * linear-layer shapes of the gpt2 and smollm benchmark models. DCT selection is timed both as the
 * dense product G·Q (`dctTopR`) and as fast DCT-IIIs (`dctTopRFft`, what DctProjector runs).
 * Usage: deno task bench:refresh [--rank 128] [--reps 3]
 * Each cell: one untimed warm-up call (V8 first runs WASM in its baseline tier), then the median of
 * `reps` timed calls. svdTopR picks its path by shape (src/linalg/types.ts `svdMethod`): the exact
 * Gram path for 192×576, randomized subspace iteration (q = 2) for the others. The machine's load
 * average is printed before and after: both sides share the cores with whatever else runs.
 */
import { parseArgs } from "node:util";
import { kernels } from "../src/linalg/active.ts";

const { values } = parseArgs({
  options: {
    rank: { type: "string", default: "128" },
    reps: { type: "string", default: "3" },
  },
});
const r = Number(values.rank), reps = Number(values.reps);
const shapes = ["768x2304", "768x768", "768x3072", "3072x768", "576x576", "192x576", "1536x576", "576x1536"];
const k = kernels();
const med = (f: () => void) => {
  f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[Math.floor(reps / 2)];
};
let torch: Record<string, number> = {};
try {
  const out = await new Deno.Command("/usr/bin/python3", { args: ["bench/torch_svd.py", ...shapes] })
    .output();
  torch = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
} catch (e) {
  console.error(`PyTorch peer unavailable: ${(e as Error).message}`);
}
const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(`load average (1, 5, 15 min) before: ${load()}`);
const rows = [];
console.log(
  `| matrix | torch.linalg.svd ms | WASM svdTopR r=${r} ms | × faster | WASM DCT dense ms | WASM DCT FFT ms | FFT × faster than svdTopR |`,
);
console.log("|---|---|---|---|---|---|---|");
for (const s of shapes) {
  const [m, n] = s.split("x").map(Number);
  const g = Float32Array.from({ length: m * n }, () => Math.random() - 0.5);
  const basis = k.dctBasis(Math.min(m, n));
  const svd = med(() => k.svdTopR(g, m, n, Math.min(r, m, n)));
  const dct = med(() => k.dctTopR(g, m, n, basis, Math.min(r, m, n)));
  const fft = med(() => k.dctTopRFft(g, m, n, Math.min(r, m, n)));
  const tt = torch[s];
  rows.push({ matrix: s, torch_svd_ms: tt, svd_top_r_ms: svd, dct_ms: dct, dct_fft_ms: fft });
  console.log(
    `| ${s} | ${tt?.toFixed(0) ?? "—"} | ${svd.toFixed(0)} | ${tt ? (tt / svd).toFixed(1) : "—"} | ${
      dct.toFixed(0)
    } | ${fft.toFixed(1)} | ${(svd / fft).toFixed(0)} |`,
  );
}
console.log(`load average (1, 5, 15 min) after: ${load()}`);
console.log(JSON.stringify(rows));
