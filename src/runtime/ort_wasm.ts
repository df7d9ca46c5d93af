/**
 * @module How onnxruntime-web's threaded WASM build starts in Deno (its `env.wasm.wasmPaths.mjs`
 * points here). Two defects of the stock start-up, both fixed here:
 *
 * 1. **Memory growth is not seen by the pool thread.** The build starts with a 16 MiB shared memory
 *    that grows on demand (to 4 GiB). In Deno, a wasm instance on another thread keeps bounds-checking
 *    against the old size until it handles V8's grow interrupt, so when one thread grows the memory
 *    and the other touches the new pages first, it traps with `memory access out of bounds`. On the
 *    pool thread that trap kills its worker silently, and the main thread then spins for good in
 *    onnxruntime's thread pool waiting for a task that will never finish (issue 12.2); on the main
 *    thread it surfaces as an error. Fix: grow the memory to its maximum before any thread runs
 *    (address space only: pages cost RAM once touched), so it never grows again.
 *    Where the address space is refused (`ulimit -v`), the runtime runs on one thread instead.
 * 2. **A pool that cannot start waits for ever.** The pthread workers must load before the runtime
 *    resolves; if they do not within {@link WasmStartOptions.timeoutMs}, the runtime starts again
 *    single-threaded and {@link wasmThreads} reports why.
 *
 * The glue also replaces the global `Worker` with node's `worker_threads` one; it is put back.
 */
import { host } from "../util/host.ts";

/**
 * Where onnxruntime-web's emscripten glue and binary live (next to its Node entry point), resolved when
 * first needed — never when the module is merely imported (the lean backend imports it and must not load
 * onnxruntime) — or undefined where the package has no file path (run without a node_modules dir).
 */
function dist(): { glue: string; binary: URL } | undefined {
  const entry = import.meta.resolve("npm:onnxruntime-web@1.30.0");
  if (!entry.startsWith("file:")) return undefined;
  const dir = new URL("./", entry);
  return {
    glue: new URL("ort-wasm-simd-threaded.mjs", dir).href,
    binary: new URL("ort-wasm-simd-threaded.wasm", dir),
  };
}

/** Whether the guarded start can run here (onnxruntime-web's files are on disk). */
export function canGuardWasmStart(): boolean {
  return dist() !== undefined;
}
/**
 * Pages to reserve: the glue's maximum (65536 × 64 KiB) less one, as emscripten's own growth stops
 * there (a 32-bit heap size of 4 GiB reads as 0).
 */
const MAX_PAGES = 65535;

/** Options of the threaded start (set by `session.ts` before the first session). */
export interface WasmStartOptions {
  /** How long the pool's workers may take to load before falling back to one thread (ms). */
  timeoutMs: number;
  /** onnxruntime's `env.wasm`: its `numThreads` is set to 1 on a fallback (read by OrtInit after the start). */
  wasmEnv: { numThreads?: number };
}

/** What the start did: threads asked for, threads running, and why they differ. */
export interface WasmThreadsReport {
  requested: number;
  active: number;
  /** Set when the pool could not start and the runtime fell back to one thread. */
  fallback?: string;
  /** Bytes of wasm memory reserved up front (see the module doc; 0 on one thread). */
  reservedBytes: number;
}

let options: WasmStartOptions = { timeoutMs: 10_000, wasmEnv: {} };
let report: WasmThreadsReport | undefined;

/** Set the start options (before onnxruntime-web initializes). */
export function configureWasmStart(o: WasmStartOptions): void {
  options = o;
}

/**
 * How the threaded WASM runtime started, once it has (undefined before).
 *
 * @example
 * ```ts ignore
 * await createSession(bytes, { backend: "wasm" });
 * wasmThreads(); // { requested: 2, active: 2, reservedBytes: 4294901760 }
 * ```
 */
export function wasmThreads(): WasmThreadsReport | undefined {
  return report;
}

type Factory = (arg: Record<string, unknown>) => Promise<unknown>;
type Imports = WebAssembly.Imports;

/** Grow the imported memory to its maximum now; throws when the address space is refused. */
function reserveAll(imports: Imports): number {
  const mem = Object.values(imports).flatMap((m) => Object.values(m))
    .find((v): v is WebAssembly.Memory => v instanceof WebAssembly.Memory);
  if (!mem) throw new Error("the wasm imports hold no memory");
  try {
    mem.grow(MAX_PAGES - mem.buffer.byteLength / 65536);
  } catch (e) {
    throw new Error(`could not reserve its ${MAX_PAGES / 16} MiB wasm memory up front (${e})`);
  }
  return mem.buffer.byteLength;
}

let compiled: Promise<WebAssembly.Module> | undefined;

/**
 * Start the stock factory with an instantiation that reserves the memory first; rejects (instead
 * of waiting for ever, as the glue would) when the binary cannot be read or instantiated.
 */
function start(real: Factory, arg: Record<string, unknown>, numThreads: number, sized: (n: number) => void) {
  // one thread never races itself: the memory may grow on demand
  let fail!: (e: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  const instantiateWasm = (
    imports: Imports,
    done: (i: WebAssembly.Instance, m: WebAssembly.Module) => void,
  ) => {
    try {
      sized(numThreads > 1 ? reserveAll(imports) : 0);
    } catch (e) {
      fail(e);
      return {};
    }
    compiled ??= host().readModuleFile(dist()!.binary).then((b) => WebAssembly.compile(b));
    compiled.then(async (module) => done(await WebAssembly.instantiate(module, imports), module))
      .catch(fail);
    return {};
  };
  return Promise.race([real({ ...arg, numThreads, instantiateWasm }), failed]);
}

/**
 * The emscripten module factory onnxruntime-web calls (as the default export of `wasmPaths.mjs`):
 * the stock one, started with its memory reserved and its pool's start bounded in time.
 */
export default async function ortWasmFactory(arg: Record<string, unknown>): Promise<unknown> {
  // the glue replaces the global Worker with node's worker_threads one: give it back afterwards
  const worker = globalThis.Worker;
  try {
    return await startRuntime(arg);
  } finally {
    globalThis.Worker = worker;
  }
}

async function startRuntime(arg: Record<string, unknown>): Promise<unknown> {
  const real = (await import(dist()!.glue)).default as Factory;
  const requested = Math.max(1, Number(arg.numThreads ?? 1));
  let reservedBytes = 0;
  const sized = (n: number) => (reservedBytes = n);
  if (requested === 1) {
    const m = await start(real, arg, 1, sized);
    report = { requested, active: 1, reservedBytes };
    return m;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), options.timeoutMs)));
  const threaded = start(real, arg, requested, sized);
  let why: string;
  try {
    const m = await Promise.race([threaded, timeout]);
    if (m !== "timeout") {
      report = { requested, active: requested, reservedBytes };
      return m;
    }
    why = `its ${requested - 1} pool worker(s) did not start within ${options.timeoutMs} ms`;
  } catch (e) {
    why = `its pool could not start: ${(e as Error).message ?? e}`;
  } finally {
    clearTimeout(timer);
  }
  threaded.catch(() => {}); // abandoned
  options.wasmEnv.numThreads = 1;
  const m = await start(real, arg, 1, sized);
  report = { requested, active: 1, fallback: why, reservedBytes };
  console.error(`posttrain: onnxruntime-web runs on 1 thread: ${why}`);
  return m;
}
