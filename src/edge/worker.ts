/**
 * @module The Cloudflare Workers entry (bundled by `deno task build:worker`, served locally by
 * `deno task worker:serve` in workerd): the HTTP API of `deno task start` (DESIGN.md §3) answered by
 * the `lean` backend. Every request goes to one Durable Object, {@link PosttrainJobs}, which holds the
 * Hono app, the job records and files in its storage (the built-in model comes from the bundle) and
 * advances jobs one chunk per alarm: each alarm runs at most `POSTTRAIN_CHUNK_STEPS` optimizer steps and
 * writes a checkpoint, so each stays within Cloudflare's CPU limit per invocation, and a job outlives its
 * isolate being evicted or workerd being restarted (the next alarm, or the next request, picks it up
 * from the recorded checkpoint). Each chunk logs one JSON line `{"chunk": id, "ms", "step", "more"}`.
 *
 * Bindings: `JOBS` (the Durable Object namespace), `ASSETS` (static files) and the variables of `main.ts` as
 * text: `POSTTRAIN_TOKEN`, `POSTTRAIN_MAX_BODY`, `POSTTRAIN_CHUNK_STEPS` (default 5), `POSTTRAIN_MEMORY_BUDGET`
 * (MiB), plus `POSTTRAIN_LEAN_RESERVE_MB` (the lean device's reservation; default 4 GiB, see `sharedDevice`)
 * and `POSTTRAIN_DO_VALUE_KB` (the largest value written to the object's storage: 512 by default, 128 for
 * a KV-backed object).
 */
import { bundledModel } from "./bundled.ts";
import { createApp, createRunner, DEFAULT_MAX_BODY } from "../../routes/app.ts";
import type { OpenAPIHono } from "npm:@hono/zod-openapi@1.6.3";
import { type DurableObjectKv, DurableStorage } from "../io/durable_storage.ts";
import { MountStorage, setStorage, type Storage } from "../io/storage.ts";
import { DurableJobStore } from "../jobs/durable_store.ts";
import type { JobRunner } from "../jobs/runner.ts";
import { configureSharedDevice } from "../runtime/lean/program.ts";
import { bareHost, setHost } from "../util/host.ts";
import { packStorage } from "./model_pack.ts";

/** The part of a Durable Object's state this module uses. */
export interface DurableObjectStateLike {
  storage: DurableObjectKv & {
    getAlarm(): Promise<number | null>;
    setAlarm(at: number): Promise<void>;
  };
  blockConcurrencyWhile<T>(fn: () => Promise<T>): Promise<T>;
}

/** A Durable Object namespace binding. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(req: Request): Promise<Response> };
}

/** The Worker's bindings. */
export interface WorkerEnv {
  JOBS: DurableObjectNamespaceLike;
  /** Static assets (wrangler's `[assets]`; in workerd a disk service): the playground's script and kernels. */
  ASSETS?: { fetch(req: Request): Promise<Response> };
  [name: string]: unknown;
}

/** Static assets the Worker answers itself, with their content types (a module worker script needs a JS type). */
const ASSETS: Record<string, string> = {
  "/playground/posttrain.js": "text/javascript; charset=utf-8",
  "/playground/kernels.wasm": "application/wasm",
};

/** Where job files live inside the object's storage. */
const DATA_DIR = "data";
const MODEL_DIR = "models/default";

let deviceConfigured = false;

const int = (v: unknown, fallback: number) => {
  const n = Number(v);
  return typeof v === "string" && v !== "" && Number.isFinite(n) && n > 0 ? Math.floor(n) : fallback;
};

/**
 * The Durable Object: the app, its job store and files, and an alarm that advances jobs chunk by chunk.
 *
 * @example
 * ```ts ignore
 * // wrangler.toml: [[durable_objects.bindings]] name = "JOBS", class_name = "PosttrainJobs"
 * export { PosttrainJobs } from "./worker.js";
 * ```
 */
export class PosttrainJobs {
  #ready: Promise<{ app: OpenAPIHono; runner: JobRunner }>;

  constructor(readonly state: DurableObjectStateLike, readonly env: WorkerEnv, model?: Storage) {
    this.#ready = state.blockConcurrencyWhile(() => this.#init(model));
  }

  async #init(model?: Storage) {
    const env = this.env, text = (k: string) => (typeof env[k] === "string" ? env[k] as string : undefined);
    setHost({ ...bareHost, env: text });
    // the isolate outlives an object reset by the runtime: its device (and its reservation) stays
    const reserve = text("POSTTRAIN_LEAN_RESERVE_MB");
    if (reserve && !deviceConfigured) configureSharedDevice({ reserve: int(reserve, 4096) * 2 ** 20 });
    deviceConfigured = true;
    const modelStorage = model ?? (bundledModel ? packStorage(bundledModel) : undefined);
    const valueKb = int(text("POSTTRAIN_DO_VALUE_KB"), 0);
    const data = new DurableStorage(this.state.storage, valueKb ? { chunkBytes: valueKb * 1024 } : {});
    setStorage(new MountStorage(modelStorage ? { [MODEL_DIR]: modelStorage, "": data } : { "": data }));
    const store = await DurableJobStore.open(this.state.storage);
    // jobs interrupted by an eviction or a restart go on from their recorded checkpoint: show that step
    for (const j of await store.list({ status: ["running"] })) {
      if (j.type === "finetune" && j.progress.step !== (j.progress.checkpoint_step ?? 0)) {
        await store.update(j.id, (r) => ({
          ...r,
          resumes: (r.resumes ?? 0) + 1,
          progress: { ...r.progress, step: r.progress.checkpoint_step ?? 0 },
        }));
      }
    }
    const opts = {
      models: new Map(modelStorage ? [["default", MODEL_DIR]] : []),
      dataDir: DATA_DIR,
      store,
      token: text("POSTTRAIN_TOKEN"),
      maxBodyBytes: int(text("POSTTRAIN_MAX_BODY"), DEFAULT_MAX_BODY),
      chunkSteps: int(text("POSTTRAIN_CHUNK_STEPS"), 5),
      defaultBackend: "lean" as const,
      // one Durable Object is the only holder of its jobs by construction: the same name across evictions
      instance: "durable-object",
      // the memory budget (MiB) jobs are planned against at submit, where the app checks one
      memoryBudgetMb: int(text("POSTTRAIN_MEMORY_BUDGET"), 0) || undefined,
    };
    // not started: this object advances jobs from its alarm, one chunk per invocation
    const runner = createRunner(opts);
    return { app: createApp({ ...opts, runner }), runner };
  }

  /** Answer a request; afterwards make sure an alarm is set while jobs are pending. */
  async fetch(req: Request): Promise<Response> {
    const { app } = await this.#ready;
    const res = await app.fetch(req);
    await this.#schedule();
    return res;
  }

  /** Run one chunk of the oldest running job (else the oldest queued one), then schedule the next. */
  async alarm(): Promise<void> {
    const { runner } = await this.#ready;
    const job = await this.#next(runner);
    if (job) {
      const t0 = Date.now();
      const more = await runner.advance(job);
      const rec = await runner.store.get(job);
      console.log(JSON.stringify({ chunk: job, ms: Date.now() - t0, step: rec?.progress.step, more }));
    }
    if (await this.#next(runner)) await this.state.storage.setAlarm(Date.now());
  }

  async #next(runner: JobRunner): Promise<string | undefined> {
    const running = await runner.store.list({ status: ["running"] });
    if (running.length) return running[running.length - 1].id;
    return (await runner.store.list({ status: ["queued"] })).at(-1)?.id;
  }

  async #schedule(): Promise<void> {
    const { runner } = await this.#ready;
    if ((await this.state.storage.getAlarm()) === null && (await this.#next(runner))) {
      await this.state.storage.setAlarm(Date.now());
    }
  }
}

/** The Worker: the playground's static files from `ASSETS`, every other request to the one {@link PosttrainJobs}. */
export default {
  async fetch(req: Request, env: WorkerEnv): Promise<Response> {
    const type = ASSETS[new URL(req.url).pathname];
    if (type && env.ASSETS && req.method === "GET") {
      const res = await env.ASSETS.fetch(req);
      if (res.ok) return new Response(res.body, { headers: { "content-type": type } });
      await res.body?.cancel();
    }
    return await env.JOBS.get(env.JOBS.idFromName("posttrain")).fetch(req);
  },
};
