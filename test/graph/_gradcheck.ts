/**
 * Finite-difference gradient check for IR graphs. The loss is ⟨out, r⟩ for a fixed random r,
 * summed on the host in float64; analytic gradients come from `grad`, numerical ones from
 * central differences along random directions and along single coordinates.
 */
import { grad } from "../../src/graph/autodiff.ts";
import type { Tensor } from "../../src/graph/ir.ts";
import { input, mul, reduceSum } from "../../src/graph/ops.ts";
import { f32, type HostTensor } from "../../src/runtime/session.ts";
import type { Backend } from "../../src/runtime/backend.ts";
import { compile } from "../../src/runtime/compile.ts";
import { randn, rng } from "../_util.ts";

export interface GradCheckOptions {
  /** Inputs that are not differentiated (int ids, masks), fed as is. */
  extra?: Record<string, HostTensor>;
  /** Input ranges (default [−1, 1]). */
  lo?: number;
  hi?: number;
  eps?: number;
  tol?: number;
  seed?: number;
  backend?: Backend;
  /** Per-input fixed data (overrides random init). */
  data?: (Float32Array | undefined)[];
}

/** Check d⟨build(xs), r⟩/dxs against finite differences; throws with details on mismatch. */
export async function gradCheck(
  label: string,
  shapes: number[][],
  build: (xs: Tensor[]) => Tensor,
  o: GradCheckOptions = {},
): Promise<void> {
  const rand = rng(o.seed ?? 1);
  const eps = o.eps ?? 1e-2, tol = o.tol ?? 3e-3;
  const xs = shapes.map((s, i) => input(`x${i}`, "float32", s));
  const out = build(xs);
  const outShape = out.shape as number[];
  const r = input("r", "float32", outShape);
  const gs = grad(reduceSum(mul(out, r), outShape.map((_, i) => i)), xs);
  const outputs: Record<string, Tensor> = { out };
  gs.forEach((g, i) => g && (outputs[`g${i}`] = g));
  const sess = await compile(outputs, { backend: o.backend ?? "node" });
  const n = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const rData = randn(n(outShape), rand);
  const x0 = shapes.map((s, i) => o.data?.[i] ?? randn(n(s), rand, o.lo ?? -1, o.hi ?? 1));
  const feeds = (xv: Float32Array[]): Record<string, HostTensor> => {
    const f: Record<string, HostTensor> = { ...o.extra, r: f32(rData, outShape) };
    xv.forEach((x, i) => (f[`x${i}`] = f32(x, shapes[i])));
    return f;
  };
  const loss = async (xv: Float32Array[]) => {
    const { out } = await sess.run(feeds(xv), ["out"]);
    let s = 0;
    for (let i = 0; i < rData.length; i++) s += out.data[i] as number * rData[i];
    return s;
  };
  const res = await sess.run(feeds(x0));
  const g = shapes.map((s, i) => (res[`g${i}`]?.data as Float32Array) ?? new Float32Array(n(s)));
  const fd = async (dir: Float32Array[]) => {
    const step = (sign: number) => x0.map((x, i) => x.map((v, j) => v + sign * eps * dir[i][j]));
    return ((await loss(step(1))) - (await loss(step(-1)))) / (2 * eps);
  };
  const norm = (a: Float32Array[]) => Math.sqrt(a.reduce((s, x) => s + x.reduce((t, v) => t + v * v, 0), 0));
  const dotg = (d: Float32Array[]) => d.reduce((s, x, i) => s + x.reduce((t, v, j) => t + v * g[i][j], 0), 0);
  const gNorm = norm(g);
  const check = async (dir: Float32Array[], what: string) => {
    const want = await fd(dir), got = dotg(dir);
    const scale = Math.max(gNorm * norm(dir), 1e-3);
    if (!(Math.abs(want - got) <= tol * scale + 1e-4)) {
      throw new Error(`${label}: ${what}: analytic ${got} vs finite-difference ${want} (scale ${scale})`);
    }
  };
  try {
    for (let k = 0; k < 3; k++) await check(shapes.map((s) => randn(n(s), rand)), `direction ${k}`);
    for (let i = 0; i < shapes.length; i++) {
      for (let k = 0; k < Math.min(4, n(shapes[i])); k++) {
        const j = Math.floor(rand() * n(shapes[i]));
        const dir = shapes.map((s) => new Float32Array(n(s)));
        dir[i][j] = 1;
        await check(dir, `x${i}[${j}]`);
      }
    }
  } finally {
    await sess.release();
  }
}
