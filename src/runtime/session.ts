/**
 * @module One runtime interface over three onnxruntime backends:
 * `wasm` (onnxruntime-web, default: runs in every edge isolate), `webgpu` (onnxruntime-web's
 * WebGPU EP) and `node` (onnxruntime-node: native MLAS kernels, fastest on a Deno server).
 * Models are always passed as bytes (WebGPU in Deno cannot fetch file URLs).
 */
import type { DType } from "../graph/ir.ts";
import { type Backend, BACKENDS, DEFAULT_BACKEND, ORT_BACKENDS } from "./backend.ts";
import { host } from "../util/host.ts";

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

async function loadOrt(backend: Backend, threads?: number): Promise<Ort> {
  if (backend === "node") return await import("npm:onnxruntime-node@1.30.0");
  const ort = backend === "webgpu"
    ? await import("npm:onnxruntime-web@1.30.0/webgpu")
    : await import("npm:onnxruntime-web@1.30.0");
  // The WebGPU build's threaded WASM fallback needs blob-URL workers, which Deno's npm loader
  // refuses; it runs single-threaded (its CPU fallback only handles the few ops WebGPU lacks).
  // POSTTRAIN_WASM_THREADS overrides the default 2 threads (1 avoids onnxruntime-web's worker
  // start-up, which was seen to stall on an overloaded 2-core machine).
  const fromEnv = Number(host().env("POSTTRAIN_WASM_THREADS") ?? "");
  ort.env.wasm.numThreads = backend === "webgpu"
    ? 1
    : threads ?? (fromEnv > 0 ? fromEnv : Math.min(2, navigator.hardwareConcurrency || 1));
  ort.env.logLevel = "error";
  return ort;
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
  const sess = await ort.InferenceSession.create(bytes, so);
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
      const res = await sess.run(ortFeeds, outputs ? [...outputs] : undefined);
      const out: Record<string, HostTensor> = {};
      for (const [k, v] of Object.entries(res as Record<string, Ort>)) {
        const data = backend === "node" || v.location === "cpu" ? v.data : await v.getData();
        out[k] = { dtype: TYPE_OF[v.type] ?? v.type, shape: [...v.dims], data };
      }
      return out;
    },
    async release() {
      await sess.release();
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
