/**
 * @module The compile seam: IR in, a runnable program out. Every caller that executes a graph goes
 * through {@link compile}; which backend runs it is a setting, never a code path of the caller.
 * The onnxruntime backends (`wasm`, `webgpu`, `node`) lower the IR to ONNX and create a session; `lean`
 * runs the IR itself on our WASM kernels in one planned arena (src/runtime/lean/). A backend that cannot
 * run a graph refuses it here, naming the op.
 */
import type { Tensor } from "../graph/ir.ts";
import { lowerGraph } from "../graph/lower.ts";
import { type Backend, BACKENDS, createSession, type HostTensor } from "./session.ts";

/** Options of {@link compile}. */
export interface CompileOptions {
  /** Backend (default `wasm`). */
  backend?: Backend;
  /** Intra-op threads of the onnxruntime backends (default: theirs). */
  threads?: number;
  /** onnxruntime sessions without memory arena / patterns (see `SessionOptions.lowMemory`). */
  lowMemory?: boolean;
  /**
   * Upper bounds of the symbolic dims (e.g. `{ batch: 8, seq: 256 }`): `lean` sizes its arena for them
   * once, so no step allocates. Runs with larger dims than these grow the arena once (and say so).
   */
  dims?: Record<string, number>;
  /** `lean`: recompute each transformer block's forward in the backward pass (default: where it helps). */
  recompute?: boolean;
}

/** Per-run options of {@link Program.run}. */
export interface RunOptions {
  /**
   * Called with each streamed output as soon as it is final (on `lean`, before later ops overwrite its
   * memory: the tensor's data is valid only during the call — copy what you keep). Streamed outputs are
   * not in the returned record. onnxruntime backends call it after the run.
   */
  onOutput?: (name: string, t: HostTensor) => void;
  /** Which requested outputs go to `onOutput` (default: all of them). */
  stream?: (name: string) => boolean;
}

/** The memory a program needs, itemised in bytes. */
export interface MemoryPlan {
  /** True when the figures come from a static plan (lean), false for an estimate. */
  exact: boolean;
  /** Intermediates: one arena (lean) or the estimated activations and gradients. */
  arenaBytes: number;
  /** Graph inputs held in the program's memory (weights, token feeds). */
  inputBytes: number;
  /** Requested outputs kept until returned. */
  outputBytes: number;
}

/** A compiled graph. */
export interface Program {
  readonly backend: Backend;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Run with `feeds` (covering `inputNames`); returns the requested outputs (default all). */
  run(
    feeds: Record<string, HostTensor>,
    outputs?: readonly string[],
    opts?: RunOptions,
  ): Promise<Record<string, HostTensor>>;
  /** Free the program's native / WASM memory. */
  release(): Promise<void>;
}

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
