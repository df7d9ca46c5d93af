/**
 * @module The {@link Executor} on Deno Workers (`executor_entry.ts`), so the HTTP event loop only
 * answers requests: one worker runs job chunks, another the submit-time row checks and generation
 * (so neither waits for the other; each has its own onnxruntime). Workers start on first use.
 * A worker that dies, or sends nothing while a call is pending for longer than `stallMs` (a last
 * resort: no known cause is left), is stopped; its pending calls fail with a clear error and the
 * next call starts a fresh one (a job continues from its last checkpoint).
 */
import type { Backend } from "../runtime/backend.ts";
import type { JobProgress, JobRecord } from "./store.ts";
import type { ChunkResult } from "./work.ts";
import type { AcceptedRequest, ChunkCall, Executor, GenerateRequest, ModelRefs } from "./executor.ts";
import { PosttrainError } from "../errors.ts";

/** Options of {@link WorkerExecutor}. */
export interface WorkerExecutorOptions {
  /** Root of the job files (as the runner's `ArtifactStore`). */
  dataDir: string;
  /** Registered models (name → dir). */
  models?: ReadonlyMap<string, string>;
  /** Models root (relative model refs). */
  root?: string;
  chunkSteps: number;
  defaultBackend: Backend;
  /** A worker silent this long while a call waits is stopped (default 10 min). */
  stallMs?: number;
}

/** The first message: how to build the executor. */
export interface InitMessage {
  op: "init";
  dataDir: string;
  models: [string, string][];
  root?: string;
  chunkSteps: number;
  defaultBackend: Backend;
}

/** The worker's first message: its module has loaded and it listens. */
export const READY = "posttrain-executor-ready";

/** An error as it crosses the worker boundary (PosttrainErrors keep code and path). */
export interface WireError {
  message: string;
  stack?: string;
  api?: { code: string; path?: string };
}

/** Serialize an error for `postMessage`. */
export function toWire(e: unknown): WireError {
  const err = e instanceof Error ? e : new Error(String(e));
  return {
    message: err.message,
    stack: err.stack,
    ...(err instanceof PosttrainError ? { api: { code: err.code, path: err.path } } : {}),
  };
}

/** Rebuild an error from {@link toWire}. */
export function fromWire(w: WireError): Error {
  if (w.api) return new PosttrainError(w.api.code, w.message, w.api.path);
  const e = new Error(w.message);
  if (w.stack) e.stack = w.stack;
  return e;
}

/** Deno's web Worker, captured before anything can replace the global (see `runtime/ort_wasm.ts`). */
const WebWorker = globalThis.Worker;
const ENTRY = new URL("./executor_entry.ts", import.meta.url).href;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (p: Partial<JobProgress>) => void;
}

/** One worker and its calls in flight. */
class Lane {
  #worker?: Worker;
  #pending = new Map<number, Pending>();
  #next = 0;
  #heard = 0;
  #timer?: ReturnType<typeof setInterval>;
  /** Messages held until the worker says `ready` (Deno drops what arrives while its module loads). */
  #queue?: unknown[];

  constructor(readonly name: string, readonly init: InitMessage, readonly stallMs: number) {}

  get alive(): boolean {
    return this.#worker !== undefined;
  }

  #spawn(): Worker {
    const w = new WebWorker(ENTRY, { type: "module", name: `posttrain-${this.name}` });
    this.#queue = [this.init];
    w.onmessage = (e: MessageEvent) => {
      this.#heard = Date.now();
      if (e.data === READY) {
        for (const m of this.#queue ?? []) w.postMessage(m);
        this.#queue = undefined;
        return;
      }
      const m = e.data as {
        call: number;
        value?: unknown;
        error?: WireError;
        progress?: Partial<JobProgress>;
      };
      const p = this.#pending.get(m.call);
      if (!p) return;
      if (m.progress) return p.onProgress?.(m.progress);
      this.#pending.delete(m.call);
      if (m.error) p.reject(fromWire(m.error));
      else p.resolve(m.value);
      if (this.#pending.size === 0) this.#idle();
    };
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.stop(`the ${this.name} worker died: ${e.message}`);
    };
    return w;
  }

  #post(m: unknown): void {
    if (this.#queue) this.#queue.push(m);
    else this.#worker?.postMessage(m);
  }

  /** Send a call; `signal` aborts it in the worker (reason passed on). */
  call<T>(
    msg: Record<string, unknown>,
    opts: { signal?: AbortSignal; onProgress?: (p: Partial<JobProgress>) => void } = {},
  ): Promise<T> {
    this.#worker ??= this.#spawn();
    const call = this.#next++;
    if (this.#pending.size === 0) {
      this.#heard = Date.now();
      this.#timer ??= setInterval(() => this.#check(), Math.min(5_000, this.stallMs));
    }
    const done = new Promise<T>((resolve, reject) => {
      this.#pending.set(call, {
        resolve: resolve as (v: unknown) => void,
        reject,
        onProgress: opts.onProgress,
      });
    });
    this.#post({ ...msg, call });
    const s = opts.signal;
    if (s) {
      const abort = () => this.#post({ op: "abort", call, reason: s.reason });
      if (s.aborted) abort();
      else {
        s.addEventListener("abort", abort, { once: true });
        done.finally(() => s.removeEventListener("abort", abort)).catch(() => {});
      }
    }
    return done;
  }

  #check(): void {
    const silent = Date.now() - this.#heard;
    if (this.#pending.size && silent > this.stallMs) {
      this.stop(`the ${this.name} worker sent nothing for ${Math.round(silent / 1000)} s; it was stopped`);
    }
  }

  #idle(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Terminate the worker; pending calls fail with `why`. */
  stop(why: string): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#queue = undefined;
    this.#idle();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(new Error(why));
  }
}

/**
 * Job chunks on one Deno Worker, row checks and generation on another.
 *
 * @example
 * ```ts ignore
 * const exec = new WorkerExecutor({ dataDir: "./data", models, chunkSteps: 20, defaultBackend: "wasm" });
 * const runner = new JobRunner({ store, files, models: registry, executor: exec });
 * ```
 */
export class WorkerExecutor implements Executor {
  readonly #jobs: Lane;
  readonly #requests: Lane;

  constructor(o: WorkerExecutorOptions) {
    const init: InitMessage = {
      op: "init",
      dataDir: o.dataDir,
      models: [...(o.models ?? new Map())],
      root: o.root,
      chunkSteps: o.chunkSteps,
      defaultBackend: o.defaultBackend,
    };
    const stall = o.stallMs ?? 600_000;
    this.#jobs = new Lane("jobs", init, stall);
    this.#requests = new Lane("requests", init, stall);
  }

  chunk(job: JobRecord, call: ChunkCall = {}): Promise<ChunkResult> {
    return this.#jobs.call({ op: "chunk", job }, call);
  }

  async release(id: string): Promise<void> {
    if (this.#jobs.alive) await this.#jobs.call({ op: "release", id });
  }

  accept(id: string, req: AcceptedRequest, refs: ModelRefs): Promise<number> {
    return this.#requests.call({ op: "accept", id, req, refs });
  }

  generate(req: GenerateRequest, refs: ModelRefs, backend: Backend): Promise<{ text: string }> {
    return this.#requests.call({ op: "generate", req, refs, backend });
  }

  async close(): Promise<void> {
    for (const lane of [this.#jobs, this.#requests]) {
      // let the worker release its sessions, but never wait long for a busy one
      if (lane.alive) {
        let t: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          lane.call({ op: "close" }).catch(() => {}),
          new Promise((r) => (t = setTimeout(r, 5_000))),
        ]);
        clearTimeout(t);
      }
      lane.stop("the executor was closed");
    }
  }
}
