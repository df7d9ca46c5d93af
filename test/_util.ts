/** Shared test helpers: run an IR graph, float comparisons, a seeded RNG. */
import type { Tensor } from "../src/graph/ir.ts";
import type { HostTensor } from "../src/runtime/session.ts";
import type { Backend } from "../src/runtime/backend.ts";
import { compile } from "../src/runtime/compile.ts";

/** Compile `outputs`, run once on `backend` with `feeds`, return the outputs. */
export async function runGraph(
  outputs: Record<string, Tensor>,
  feeds: Record<string, HostTensor>,
  backend: Backend = "node",
): Promise<Record<string, HostTensor>> {
  const s = await compile(outputs, { backend });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/** Mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform floats in [lo, hi). */
export function randn(n: number, rand: () => number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
}

/** Max |a−b| / (atol + rtol·|b|) ≤ 1, with a readable failure listing the worst entries. */
export function assertClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  { atol = 1e-5, rtol = 1e-4, label = "" } = {},
): void {
  if (got.length !== want.length) throw new Error(`${label}: length ${got.length} ≠ ${want.length}`);
  let worst = 0, at = -1;
  for (let i = 0; i < got.length; i++) {
    const r = Math.abs(got[i] - want[i]) / (atol + rtol * Math.abs(want[i]));
    if (!(r <= worst)) [worst, at] = [Number.isNaN(r) ? Infinity : r, i];
  }
  if (worst > 1) {
    throw new Error(
      `${label}: mismatch at ${at}: got ${got[at]}, want ${want[at]} (ratio ${worst.toFixed(2)}); ` +
        `first got [${Array.from(got).slice(0, 5).map((x) => x.toFixed(5))}] want [${
          Array.from(want).slice(0, 5).map((x) => x.toFixed(5))
        }]`,
    );
  }
}

/** Dense f64 Gauss-Jordan solve of M x = b (M n×n), partial pivoting. */
export function denseSolve(mat: Float64Array, b: Float64Array, n: number): Float64Array {
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
