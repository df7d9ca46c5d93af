/**
 * @module One runtime interface over three onnxruntime backends:
 * `wasm` (onnxruntime-web, default: runs in every edge isolate), `webgpu` (onnxruntime-web's
 * WebGPU EP) and `node` (onnxruntime-node: native MLAS kernels, fastest on a Deno server).
 * Models are always passed as bytes (WebGPU in Deno cannot fetch file URLs).
 */
import type { DType } from "../graph/ir.ts";
import { type Backend, BACKENDS, DEFAULT_BACKEND, ORT_BACKENDS } from "./backend.ts";
import { host } from "../util/host.ts";
import { canGuardWasmStart, configureWasmStart } from "./ort_wasm.ts";

export { wasmThreads, type WasmThreadsReport } from "./ort_wasm.ts";

/**
 * How long onnxruntime-web's pool workers may take to start before the runtime falls back to one
 * thread (ms): 10 s, or `POSTTRAIN_WASM_START_TIMEOUT_MS`.
 */
function wasmStartTimeoutMs(): number {
  return Number(host().env("POSTTRAIN_WASM_START_TIMEOUT_MS") ?? "") || 10_000;
}

export { type Backend, BACKENDS };

/** Typed-array data of a host tensor. */
export type TensorData = Float32Array | BigInt64Array | Int32Array | Int8Array | Uint8Array | Uint16Array;
/** A tensor on the host: dtype, static shape, data. */
export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

/** Options for {@link createSession}. */
export interface SessionOptions {
  /** Backend (default `wasm`). */
  backend?: Backend;
  /** Intra-op threads (default: 2 for wasm, all cores for node). */
  threads?: number;
  /**
   * Lower peak memory for some speed: no CPU memory arena and no memory-pattern planning (the
   * node backend has both on by default and keeps a step's tensors twice after the second run;
   * onnxruntime-web already runs without both). Default: the `POSTTRAIN_LOW_MEMORY=1` environment
   * variable, else off.
   */
  lowMemory?: boolean;
}

/** Whether `POSTTRAIN_LOW_MEMORY=1` asks every session for {@link SessionOptions.lowMemory}. */
export function lowMemoryFromEnv(): boolean {
  return host().env("POSTTRAIN_LOW_MEMORY") === "1";
}

/** A compiled graph ready to run. */
export interface Session {
  readonly backend: Backend;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Run with `feeds` (must cover `inputNames`); returns the requested outputs (default all). */
  run(feeds: Record<string, HostTensor>, outputs?: readonly string[]): Promise<Record<string, HostTensor>>;
  /** Free native / WASM memory. */
  release(): Promise<void>;
}

// deno-lint-ignore no-explicit-any
type Ort = any;
const ortCache = new Map<Backend, Promise<Ort>>();

/** Which onnxruntime-web runtime starts (threads, start-up) and why. */
async function loadOrt(backend: Backend, threads?: number): Promise<Ort> {
  if (backend === "node") return await import("npm:onnxruntime-node@1.30.0");
  const ort = backend === "webgpu"
    ? await import("npm:onnxruntime-web@1.30.0/webgpu")
    : await import("npm:onnxruntime-web@1.30.0");
  ort.env.logLevel = "error";
  // The WebGPU build's threaded WASM fallback needs blob-URL workers, which Deno's npm loader
  // refuses; it runs single-threaded (its CPU fallback only handles the few ops WebGPU lacks).
  if (backend === "webgpu") return (ort.env.wasm.numThreads = 1, ort);
  // POSTTRAIN_WASM_THREADS overrides the default min(2, cores). More than one thread starts
  // through ort_wasm.ts (memory reserved up front, pool start bounded in time, one-thread
  // fallback), which needs the module on the file system; elsewhere the runtime runs on one thread.
  const fromEnv = Number(host().env("POSTTRAIN_WASM_THREADS") ?? "");
  const n = threads ?? (fromEnv > 0 ? fromEnv : Math.min(2, navigator.hardwareConcurrency || 1));
  const local = import.meta.url.startsWith("file:") && canGuardWasmStart();
  ort.env.wasm.numThreads = local ? Math.max(1, Math.floor(n)) : 1;
  if (local) {
    configureWasmStart({ timeoutMs: wasmStartTimeoutMs(), wasmEnv: ort.env.wasm });
    ort.env.wasm.wasmPaths = { mjs: new URL("./ort_wasm.ts", import.meta.url).href };
  }
  return ort;
}

/**
 * One call at a time per onnxruntime-web runtime. Its `run` keeps the argument arrays it hands to
 * wasm (input and output tensor pointers) on the wasm stack across several `await`s and restores
 * the stack pointer when it ends; two runs that overlap free each other's arrays, and the later
 * one reads garbage: `failed to call OrtRun()`, `Unexpected input data type`, `memory access out
 * of bounds` (issue 12.4: a job and a generate request on one engine). Runs there are synchronous
 * wasm anyway, so nothing is lost by queueing them. onnxruntime-node runs natively and concurrently.
 */
const webQueues = new Map<Backend, Promise<unknown>>();

function exclusive<T>(backend: Backend, fn: () => Promise<T>): Promise<T> {
  if (backend === "node") return fn();
  const run = (webQueues.get(backend) ?? Promise.resolve()).then(fn);
  webQueues.set(backend, run.catch(() => {}));
  return run;
}

function ortFor(backend: Backend, threads?: number): Promise<Ort> {
  let p = ortCache.get(backend);
  if (!p) ortCache.set(backend, p = loadOrt(backend, threads));
  return p;
}

const TYPE_OF: Record<string, DType> = {
  float32: "float32",
  int64: "int64",
  int32: "int32",
  int8: "int8",
  uint8: "uint8",
  bool: "bool",
  float16: "float16",
};

/**
 * Compile ONNX `bytes` on a backend.
 *
 * @example
 * ```ts
 * import { input, mul } from "../graph/ops.ts";
 * import { lowerGraph } from "../graph/lower.ts";
 * const x = input("x", "float32", ["N"]);
 * const s = await createSession(lowerGraph({ y: mul(x, x) }).bytes, { backend: "wasm" });
 * const { y } = await s.run({ x: { dtype: "float32", shape: [2], data: new Float32Array([2, 3]) } });
 * ```
 */
export async function createSession(bytes: Uint8Array, opts: SessionOptions = {}): Promise<Session> {
  const backend = opts.backend ?? DEFAULT_BACKEND;
  if (!(ORT_BACKENDS as readonly string[]).includes(backend)) {
    throw new Error(`onnxruntime backend must be one of ${ORT_BACKENDS.join(", ")}, got ${backend}`);
  }
  const ort = await ortFor(backend, opts.threads);
  const so: Record<string, unknown> = {
    executionProviders: [backend === "node" ? "cpu" : backend],
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
  };
  if (opts.lowMemory ?? lowMemoryFromEnv()) {
    so.enableCpuMemArena = false;
    so.enableMemPattern = false;
  }
  if (backend === "node") {
    so.intraOpNumThreads = opts.threads ?? navigator.hardwareConcurrency ?? 2;
    so.interOpNumThreads = 1;
  }
  if (backend === "webgpu" && !("gpu" in navigator)) {
    throw new Error("backend webgpu: navigator.gpu is unavailable");
  }
  const sess: Ort = await exclusive(backend, () => ort.InferenceSession.create(bytes, so));
  return {
    backend,
    inputNames: sess.inputNames,
    outputNames: sess.outputNames,
    async run(feeds, outputs) {
      const ortFeeds: Record<string, unknown> = {};
      for (const name of sess.inputNames as string[]) {
        const t = feeds[name];
        if (!t) throw new Error(`missing graph input ${name}`);
        const data = t.dtype === "bool" ? toBoolBytes(t.data) : t.data;
        ortFeeds[name] = new ort.Tensor(t.dtype, data, t.shape);
      }
      return await exclusive(backend, async () => {
        const res = await sess.run(ortFeeds, outputs ? [...outputs] : undefined);
        const out: Record<string, HostTensor> = {};
        for (const [k, v] of Object.entries(res as Record<string, Ort>)) {
          const data = backend === "node" || v.location === "cpu" ? v.data : await v.getData();
          out[k] = { dtype: TYPE_OF[v.type] ?? v.type, shape: [...v.dims], data };
        }
        return out;
      });
    },
    async release() {
      await exclusive(backend, () => sess.release());
    },
  };
}

function toBoolBytes(d: TensorData): Uint8Array {
  return d instanceof Uint8Array ? d : Uint8Array.from(d as ArrayLike<number>, (x) => (x ? 1 : 0));
}

/** A float32 host tensor. */
export function f32(data: Float32Array | number[], shape: number[]): HostTensor {
  return { dtype: "float32", shape, data: data instanceof Float32Array ? data : Float32Array.from(data) };
}
/** An int64 host tensor from numbers. */
export function i64(data: ArrayLike<number> | BigInt64Array, shape: number[]): HostTensor {
  return {
    dtype: "int64",
    shape,
    data: data instanceof BigInt64Array ? data : BigInt64Array.from(data, (x) => BigInt(x)),
  };
}
