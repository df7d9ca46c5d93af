/**
 * Every op of the IR on the `lean` backend: its VJP against finite differences (run on lean), and its
 * forward value and gradients against onnxruntime's `wasm` backend on the same inputs.
 */
import { grad } from "../../../src/graph/autodiff.ts";
import type { Tensor } from "../../../src/graph/ir.ts";
import * as op from "../../../src/graph/ops.ts";
import { compile } from "../../../src/runtime/compile.ts";
import { f32, type HostTensor, i64 } from "../../../src/runtime/session.ts";
import { gradCheck } from "../../graph/_gradcheck.ts";
import { FUSED_CASES, type OpCase, PRIMITIVE_CASES } from "../../graph/_op_cases.ts";
import { assertClose, randn, rng } from "../../_util.ts";

/** lean and wasm agree on the output and on the gradients of ⟨out, r⟩. */
async function crossCheck({ name, shapes, build, opts = {} }: OpCase): Promise<void> {
  const rand = rng(7);
  const xs = shapes.map((s, i) => op.input(`x${i}`, "float32", s));
  const out = build(xs);
  const shape = out.shape as number[], n = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const r = op.input("r", "float32", shape);
  const outputs: Record<string, Tensor> = { out };
  grad(op.reduceSum(op.mul(out, r), shape.map((_, i) => i)), xs).forEach((g, i) =>
    g && (outputs[`g${i}`] = g)
  );
  const feeds: Record<string, HostTensor> = { ...opts.extra, r: f32(randn(n(shape), rand), shape) };
  shapes.forEach((s, i) => feeds[`x${i}`] = f32(randn(n(s), rand, opts.lo ?? -1, opts.hi ?? 1), s));
  const [lean, wasm] = await Promise.all(["lean", "wasm"].map(async (backend) => {
    const p = await compile(outputs, { backend: backend as "lean" | "wasm", threads: 1 });
    try {
      return await p.run(feeds);
    } finally {
      await p.release();
    }
  }));
  for (const k of Object.keys(outputs)) {
    assertClose(lean[k].data as Float32Array, wasm[k].data as Float32Array, {
      atol: 1e-5,
      rtol: 1e-4,
      label: `${name}: ${k}`,
    });
  }
}

// f16 has no storage on lean (a refused dtype); every other case runs
const cases = [...PRIMITIVE_CASES, ...FUSED_CASES].filter((c) => !c.name.startsWith("cast float→float"));
for (const c of cases) {
  Deno.test(`lean ${c.name}: VJP matches finite differences`, () =>
    gradCheck(c.name, c.shapes, c.build, { ...c.opts, backend: "lean" }));
  Deno.test(`lean ${c.name}: output and gradients equal onnxruntime wasm`, () => crossCheck(c));
}

/** Forward-only ops (booleans, integers, masks): lean equals wasm. */
const forwardOnly: [string, () => Record<string, Tensor>, Record<string, HostTensor>][] = [
  ["equal / less / and / not / where / cast on ints and bools", () => {
    const a = op.input("a", "int64", [2, 3]), b = op.input("b", "int64", [2, 3]);
    const m = op.and(op.not(op.equal(a, b)), op.less(a, op.constant(3, [], "int64")));
    return { m: op.cast(m, "float32"), w: op.where(m, a, b), f: op.cast(op.cast(a, "float32"), "int64") };
  }, { a: i64([1, 2, 3, 4, -100, 0], [2, 3]), b: i64([1, 0, 3, 0, 0, 0], [2, 3]) }],
  ["reduce_max", () => ({ y: op.reduceMax(op.input("x", "float32", [2, 3, 4]), [1, 2]) }), {
    x: f32(randn(24, rng(3)), [2, 3, 4]),
  }],
  ["causal_mask with a KV-cache offset", () => {
    const q = op.input("q", "float32", [2, 1]), k = op.input("k", "float32", [3, 1]);
    return { m: op.cast(op.causalMask(q, k, 0), "float32") };
  }, { q: f32([0, 0], [2, 1]), k: f32([0, 0, 0], [3, 1]) }],
  ["keep_mask (dropout) bit for bit", () => {
    const like = op.input("x", "float32", [3, 50]), seed = op.input("seed", "int64", []);
    return { m: op.cast(op.keepMask(like, seed, 0.9), "float32") };
  }, {
    x: f32(new Float32Array(150), [3, 50]),
    seed: { dtype: "int64", shape: [], data: BigInt64Array.of(1234567n) },
  }],
];
for (const [name, build, feeds] of forwardOnly) {
  Deno.test(`lean ${name}: equals onnxruntime wasm`, async () => {
    const outputs = build();
    const [lean, wasm] = await Promise.all(["lean", "wasm"].map(async (backend) => {
      const p = await compile(outputs, { backend: backend as "lean" | "wasm", threads: 1 });
      return await p.run(feeds);
    }));
    for (const k of Object.keys(outputs)) {
      assertClose(
        Array.from(lean[k].data as ArrayLike<number | bigint>, Number),
        Array.from(wasm[k].data as ArrayLike<number | bigint>, Number),
        {
          atol: 1e-6,
          label: `${name}: ${k}`,
        },
      );
    }
  });
}
