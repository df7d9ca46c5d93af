/**
 * @module The Hono app: one file per resource, composed here, with the OpenAPI 3.1 document
 * generated from the same zod schemas the CLI and the library use. Guards apply to every route:
 * a bearer token on mutating methods (when configured), a body-size limit (413), JSON errors.
 * `createApp` is synchronous (embed it in another Hono app with `app.route("/", createApp(…))`);
 * `createService` also registers this process in the data dir (several may share it and one KV store:
 * jobs move between them under leases), sweeps what killed writes left there, opens a Deno KV store
 * and resumes interrupted jobs.
 */
import { OpenAPIHono } from "npm:@hono/zod-openapi@1.6.3";
import { bodyLimit } from "npm:hono@4.13.19/body-limit";
import { join } from "../src/io/path.ts";
import { storage } from "../src/io/storage.ts";
import { type Backend, DEFAULT_BACKEND } from "../src/runtime/backend.ts";
import { ModelRegistry } from "../src/jobs/models.ts";
import { JobRunner } from "../src/jobs/runner.ts";
import { ArtifactStore } from "../src/jobs/artifacts.ts";
import type { JobStore } from "../src/jobs/store.ts";
import { MemoryJobStore } from "../src/jobs/memory_store.ts";
import { KvJobStore } from "../src/jobs/kv_store.ts";
import { withHistory } from "../src/jobs/history.ts";
import { instanceGone, registerInstance, sweepTemps } from "../src/jobs/data_dir.ts";
import { DEFAULT_LEASE_MS } from "../src/jobs/lease.ts";
import type { Executor } from "../src/jobs/executor.ts";
import { WorkerExecutor } from "../src/jobs/executor_worker.ts";
import { ApiError, bearerGuard, notFound, onError, sendError } from "./_common.ts";
import { type RateLimit, rateLimit, requireJson, securityHeaders } from "./limits.ts";
import { health } from "./health.ts";
import { modelsRoutes } from "./models.ts";
import { jobsRoutes } from "./jobs.ts";
import { artifactsRoutes } from "./artifacts.ts";
import { generateRoutes } from "./generate.ts";
import { docsRoutes } from "./docs.ts";
import { dashboardRoutes } from "./dashboard.ts";
import { budgetGuard, planRoutes } from "./plan.ts";
import { historyRoutes } from "./history.ts";
import { type PlaygroundAssets, playgroundRoutes } from "./playground.ts";

/** Default body limit: 10 MiB. */
export const DEFAULT_MAX_BODY = 10 * 1024 * 1024;

/** Options of {@link createApp}. */
export interface AppOptions {
  /** Model name → directory (e.g. `default` → `models/default`). */
  models?: ReadonlyMap<string, string>;
  /** Model dirs under this root are accepted by relative path. */
  modelsRoot?: string;
  /** Bearer token required on mutating routes (POST, DELETE) and, unless `publicReads`, on `/v1` reads; none: open. */
  token?: string;
  /** With a token: leave `/v1` reads (models, jobs, events, history, artifacts) open (POSTTRAIN_PUBLIC_READS=1). */
  publicReads?: boolean;
  /** Mutating requests per client (remote address) and window; none: no limit (POSTTRAIN_RATE_LIMIT). */
  rateLimit?: RateLimit;
  /** The backends a request may name (default: all; POSTTRAIN_BACKENDS). */
  backends?: readonly Backend[];
  /** Finished jobs are removed this many ms after they end (default: kept; POSTTRAIN_RETENTION). */
  retentionMs?: number;
  /** Largest request body in bytes (default 10 MiB); larger → 413. */
  maxBodyBytes?: number;
  /** A job runner to serve; default: a new one over `store` (default in-memory) and `dataDir`. */
  runner?: JobRunner;
  /** Job store of the default runner (default {@link MemoryJobStore}). */
  store?: JobStore;
  /** Where job files and artifacts go (default `./.posttrain`). */
  dataDir?: string;
  /** Jobs running at once (default 1). */
  concurrency?: number;
  /** Optimizer steps per resumable chunk (default 20). */
  chunkSteps?: number;
  /** Backend of requests that name none (default wasm). */
  defaultBackend?: Backend;
  /** Memory budget in MiB (POSTTRAIN_MEMORY_BUDGET): a job whose plan does not fit is refused (422). */
  memoryBudgetMb?: number;
  /**
   * Where jobs, the submit-time row checks and generation run: `"worker"` (default where Deno
   * Workers exist: the event loop only answers requests), `"inline"` (this isolate: edge runtimes
   * without Workers), or an {@link Executor}.
   */
  executor?: "worker" | "inline" | Executor;
  /** The library bundled for a browser tab, served at /playground (none: the page says how to build it). */
  playground?: PlaygroundAssets;
  /** This instance's name in job leases (default: a new random one). */
  instance?: string;
  /** Job lease length in ms (default 15,000; POSTTRAIN_LEASE_MS): a holder silent this long loses its jobs. */
  leaseMs?: number;
  /** Look for queued jobs and expired leases in the store at this interval (default 0: never). */
  pollMs?: number;
  /** Whether a lease holder is known to be gone. */
  gone?: (holder: string) => Promise<boolean>;
  /** Called before this instance starts on a job. */
  onTake?: (id: string) => Promise<unknown>;
  /** Log each job's end with the instance's name (createService: on). */
  logEnds?: boolean;
}

/** Build the default runner of {@link createApp} from its options. */
export function createRunner(opts: AppOptions = {}): JobRunner {
  const dataDir = opts.dataDir ?? ".posttrain";
  const chunkSteps = opts.chunkSteps ?? 20, defaultBackend = opts.defaultBackend ?? DEFAULT_BACKEND;
  const kind = opts.executor ?? (typeof Worker === "function" ? "worker" : "inline");
  return new JobRunner({
    store: withHistory(opts.store ?? new MemoryJobStore()),
    files: new ArtifactStore(dataDir),
    models: new ModelRegistry({ models: opts.models, root: opts.modelsRoot }),
    concurrency: opts.concurrency,
    chunkSteps,
    defaultBackend,
    instance: opts.instance,
    leaseMs: opts.leaseMs,
    pollMs: opts.pollMs,
    gone: opts.gone,
    onTake: opts.onTake,
    backends: opts.backends,
    retentionMs: opts.retentionMs,
    logEnds: opts.logEnds,
    executor: kind === "inline" ? undefined : kind === "worker"
      ? new WorkerExecutor({
        dataDir,
        models: opts.models,
        root: opts.modelsRoot,
        chunkSteps,
        defaultBackend,
      })
      : kind,
  });
}

/**
 * Build the HTTP app. Without `runner`, a new one over an in-memory store is created and started.
 *
 * @example
 * ```ts
 * const app = createApp({ dataDir: await Deno.makeTempDir() });
 * const res = await app.request("/health"); // {"status":"ok"}
 * ```
 */
export function createApp(opts: AppOptions = {}): OpenAPIHono {
  const runner = opts.runner ?? createRunner(opts);
  if (!opts.runner) runner.start().catch((e) => console.error(`job runner: ${e}`));
  const max = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const app = new OpenAPIHono();
  app.onError(onError);
  app.notFound(notFound);
  app.use("*", securityHeaders());
  if (opts.rateLimit) app.use("*", rateLimit(opts.rateLimit));
  app.use("*", bearerGuard(opts.token, { publicReads: opts.publicReads }));
  app.use("*", requireJson());
  app.use(
    "*",
    bodyLimit({
      maxSize: max,
      onError: (c) =>
        sendError(
          c,
          new ApiError(
            413,
            "payload_too_large",
            `request body: larger than ${max} bytes (POSTTRAIN_MAX_BODY)`,
          ),
        ),
    }),
  );
  const plan = {
    models: runner.models,
    defaultBackend: runner.defaultBackend,
    budgetMb: opts.memoryBudgetMb,
  };
  app.use("/v1/jobs", budgetGuard(plan));
  app.route("/", health);
  app.route("/", modelsRoutes(runner.models));
  app.route("/", jobsRoutes(runner));
  app.route("/", artifactsRoutes(runner));
  app.route("/", generateRoutes(runner));
  app.route("/", planRoutes(plan));
  app.route("/", historyRoutes(runner));
  app.route("/", docsRoutes());
  app.route("/", dashboardRoutes());
  app.route("/", playgroundRoutes(runner.models, opts.playground));
  app.openAPIRegistry.registerComponent("securitySchemes", "Bearer", {
    type: "http",
    scheme: "bearer",
    description: "POSTTRAIN_TOKEN; when the server sets one: required on POST and DELETE, and on every " +
      "/v1 read unless the server makes reads public (POSTTRAIN_PUBLIC_READS=1)",
  });
  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "posttrain",
      version: "0.1.0",
      description:
        "Post-train small decoder LLMs: fine-tune, unlearn, evaluate and select coresets as jobs, generate text.",
      license: { name: "MIT", identifier: "MIT" },
    },
    // the server that answers this document, wherever it is mounted
    servers: [{ url: c.req.path.replace(/\/openapi\.json$/, "") || "/", description: "this server" }],
    // a token is needed when the server sets one (on reads too unless they are public)
    security: [{ Bearer: [] }, {}] as Record<string, string[]>[],
    tags: [
      {
        name: "jobs",
        description: "Fine-tune, unlearn, eval and coreset jobs: submit, follow, cancel, plan",
      },
      { name: "artifacts", description: "The files a succeeded job wrote" },
      { name: "generate", description: "Text generation with a model or a job's result" },
      { name: "models", description: "The models the server offers" },
      { name: "health", description: "Liveness" },
    ],
  }));
  return app;
}

/** Options of {@link createService}. */
export interface ServiceOptions extends AppOptions {
  /**
   * Deno KV for job records: a file path, `true` for `<dataDir>/posttrain.kv`, `"runtime"` for the
   * runtime's own database (`Deno.openKv()`: Deno Deploy's managed KV), false/undefined for memory.
   */
  kv?: string | boolean;
  /** The port the server listens on, recorded in the data dir's lock (for the error a second server gives). */
  port?: number;
}

/** A running service: the app, its runner and a way to shut down. */
export interface Service {
  app: OpenAPIHono;
  runner: JobRunner;
  /** Stop the runner (running jobs checkpoint and stay resumable), close the store. */
  close(): Promise<void>;
}

/**
 * The app with a persistent job store: interrupted jobs resume from their last checkpoint.
 *
 * @example
 * ```ts ignore
 * const svc = await createService({ dataDir: "./data", kv: true, models: new Map([["default", "models/default"]]) });
 * Deno.serve({ port: 8000 }, svc.app.fetch);
 * ```
 */
export async function createService(opts: ServiceOptions = {}): Promise<Service> {
  const dataDir = opts.dataDir ?? ".posttrain";
  const me = await registerInstance(
    dataDir,
    opts.port === undefined ? {} : { port: opts.port },
    opts.instance,
  );
  try {
    // temp files of killed writes: all of them when this is the only instance, else per job taken
    const alone = (await me.others()).length === 0;
    const swept = alone ? await sweepTemps(dataDir) : [];
    if (swept.length) console.error(`posttrain: removed ${swept.length} temp file(s) left by killed writes`);
    let store = opts.store;
    if (!store && opts.kv) {
      await storage().mkdir(dataDir);
      const path = opts.kv === true
        ? join(dataDir, "posttrain.kv")
        : opts.kv === "runtime"
        ? undefined
        : opts.kv;
      store = await KvJobStore.open(path);
    }
    const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    const runner = opts.runner ?? createRunner({
      ...opts,
      dataDir,
      store,
      instance: me.id,
      leaseMs,
      // a shared store (KV): look for jobs other instances left
      pollMs: opts.pollMs ?? (store ? Math.round(leaseMs / 3) : 0),
      gone: opts.gone ?? ((h) => instanceGone(dataDir, h)),
      onTake: opts.onTake ?? ((id) => sweepTemps(dataDir, id)),
      logEnds: opts.logEnds ?? true,
    });
    await runner.start();
    const app = createApp({ ...opts, runner });
    return {
      app,
      runner,
      close: async () => {
        await runner.stop(); // closes the executor
        runner.store.close();
        runner.models.close();
        me.release();
      },
    };
  } catch (e) {
    me.release();
    throw e;
  }
}
