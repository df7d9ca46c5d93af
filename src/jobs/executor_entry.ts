/**
 * @module The Deno Worker behind `executor_worker.ts`: an {@link InlineExecutor} driven by
 * messages. In: `init` (data dir, models, chunk size, backend), then calls `{op, call, ...args}`
 * (`chunk`, `release`, `accept`, `generate`, `close`) and `abort` for a running chunk. Out:
 * `{call, value}` or `{call, error}` per call, and `{call, progress}` while a chunk runs.
 */
import type { Backend } from "../runtime/backend.ts";
import { ArtifactStore } from "./artifacts.ts";
import { InlineExecutor } from "./executor.ts";
import { type InitMessage, READY, toWire } from "./executor_worker.ts";
import { ModelRegistry } from "./models.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(m: unknown): void;
  close(): void;
}

function serve(scope: WorkerScope): void {
  let exec: InlineExecutor | undefined;
  const running = new Map<number, AbortController>();
  const run = async (m: Record<string, unknown>): Promise<unknown> => {
    if (!exec) throw new Error("executor worker: not initialized");
    const call = m.call as number;
    switch (m.op) {
      case "chunk": {
        const ac = new AbortController();
        running.set(call, ac);
        try {
          return await exec.chunk(m.job as never, {
            signal: ac.signal,
            onProgress: (progress) => scope.postMessage({ call, progress }),
          });
        } finally {
          running.delete(call);
        }
      }
      case "release":
        return await exec.release(m.id as string);
      case "accept":
        return await exec.accept(m.id as string, m.req as never, m.refs as never);
      case "generate":
        return await exec.generate(m.req as never, m.refs as never, m.backend as Backend);
      case "close":
        return await exec.close();
    }
    throw new Error(`executor worker: unknown op ${m.op}`);
  };
  scope.onmessage = (e: MessageEvent) => {
    const m = e.data as Record<string, unknown>;
    if (m.op === "init") {
      const i = m as unknown as InitMessage;
      exec = new InlineExecutor({
        files: new ArtifactStore(i.dataDir),
        models: new ModelRegistry({ models: new Map(i.models), root: i.root }),
        chunkSteps: i.chunkSteps,
        defaultBackend: i.defaultBackend,
      });
      return;
    }
    if (m.op === "abort") return void running.get(m.call as number)?.abort(m.reason);
    run(m).then(
      (value) => scope.postMessage({ call: m.call, value }),
      (err) => scope.postMessage({ call: m.call, error: toWire(err) }),
    );
  };
}

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
if (typeof g.WorkerGlobalScope === "function" && g instanceof g.WorkerGlobalScope) {
  // A Deno worker has a `location` (its module's file URL, origin "null"); the onnxruntime-web
  // bundle inside transformers.js then builds `new URL(…, "null")` and fails to load, as it would
  // not on the main thread, which has none.
  Object.defineProperty(g, "location", { value: undefined, configurable: true });
  serve(g as WorkerScope);
  // messages sent while this module loaded may be lost: the parent holds them until this
  g.postMessage(READY);
}
