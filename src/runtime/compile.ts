/**
 * @module The compile seam: IR in, a runnable program out. Every caller that executes a graph goes
 * through {@link compile}; which backend runs it is a setting, never a code path of the caller.
 * The onnxruntime backends (`wasm`, `webgpu`, `node`) lower the IR to ONNX and create a session; `lean`
 * runs the IR itself on our WASM kernels in one planned arena (src/runtime/lean/). A backend that cannot
 * run a graph refuses it here, naming the op.
 */
import type { Tensor } from "../graph/ir.ts";
import { lowerGraph } from "../graph/lower.ts";
import { createSession } from "./session.ts";
import { BACKENDS } from "./backend.ts";
import type { CompileOptions, MemoryPlan, Program, RunOptions } from "./program.ts";

export type { CompileOptions, MemoryPlan, Program, RunOptions };

/**
 * Compile the graph computing `outputs` (name → tensor) on a backend.
 *
 * @example
 * ```ts
 * import { input, mul } from "../graph/ops.ts";
 * const x = input("x", "float32", ["N"]);
 * const p = await compile({ y: mul(x, x) }, { backend: "wasm" });
 * const { y } = await p.run({ x: { dtype: "float32", shape: [2], data: new Float32Array([2, 3]) } });
 * await p.release();
 * ```
 */
export async function compile(outputs: Record<string, Tensor>, opts: CompileOptions = {}): Promise<Program> {
  const backend = opts.backend ?? "wasm";
  if (!(BACKENDS as readonly string[]).includes(backend)) {
    throw new Error(`backend must be one of ${BACKENDS.join(", ")}, got ${backend}`);
  }
  if (backend === "lean") {
    const { compileLean } = await import("./lean/program.ts");
    return await compileLean(outputs, opts);
  }
  const lowered = lowerGraph(outputs);
  const session = await createSession(lowered.bytes, opts);
  return {
    backend,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, names, runOpts) {
      const res = await session.run(feeds, names);
      if (runOpts?.onOutput) {
        for (const [k, v] of Object.entries(res)) {
          if (runOpts.stream && !runOpts.stream(k)) continue;
          runOpts.onOutput(k, v);
          delete res[k];
        }
      }
      return res;
    },
    release: () => session.release(),
  };
}
