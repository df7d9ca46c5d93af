/**
 * `deno task start` (or `deno run -A main.ts`): serve the HTTP API on PORT (default 8000) with the
 * built-in model; `deno serve -A main.ts` serves the default export instead. Configuration from
 * the environment:
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | PORT | 8000 | port (`deno run`; `deno serve` takes `--port`) |
 * | POSTTRAIN_TOKEN | — | bearer token required on POST/DELETE and on `/v1` reads |
 * | POSTTRAIN_PUBLIC_READS | 0 | 1: with a token, `/v1` reads (models, jobs, events, artifacts) stay open |
 * | POSTTRAIN_DATA_DIR | ./.posttrain | Deno KV file (job records) + job files and artifacts |
 * | POSTTRAIN_KV | `<data dir>/posttrain.kv` | KV path; `runtime`: `Deno.openKv()` (Deno Deploy); `memory`: no KV |
 * | POSTTRAIN_MODELS_ROOT | — | model dirs under it are accepted by relative path |
 * | POSTTRAIN_MAX_BODY | 10485760 | request body limit in bytes (413 past it) |
 * | POSTTRAIN_CONCURRENCY | 1 | jobs running at once (others queue) |
 * | POSTTRAIN_CHUNK_STEPS | 20 | optimizer steps per checkpointed chunk |
 * | POSTTRAIN_BACKEND | wasm | backend of requests that name none: wasm, webgpu, node |
 * | POSTTRAIN_MEMORY_BUDGET | — | MiB; a job whose memory plan does not fit is refused at submit (422) |
 * | POSTTRAIN_LEASE_MS | 15000 | job lease: an instance silent this long loses its jobs to the others sharing the store |
 * | POSTTRAIN_BACKENDS | all | comma list of the backends a request may name (another: 422 naming `backend`) |
 * | POSTTRAIN_RATE_LIMIT | off | `<requests>/<seconds>` of POST/DELETE per client address (past it: 429 + Retry-After) |
 * | POSTTRAIN_RETENTION | — | age (`30d`, `12h`, `90m`, `600s`) after which finished jobs are removed, record and files |
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { createService, type Service } from "./routes/app.ts";
import { parseRateLimit } from "./routes/limits.ts";
import { BACKENDS, DEFAULT_BACKEND } from "./src/runtime/backend.ts";
import { defaultModelDir } from "./src/api.ts";

const int = (min: number) => z.coerce.number().int().min(min);
const Env = z.object({
  PORT: int(0).max(65535).default(8000),
  POSTTRAIN_TOKEN: z.string().min(1).optional(),
  POSTTRAIN_DATA_DIR: z.string().min(1).default(".posttrain"),
  POSTTRAIN_KV: z.string().min(1).optional(),
  POSTTRAIN_MODELS_ROOT: z.string().min(1).optional(),
  POSTTRAIN_MAX_BODY: int(1).default(10 * 1024 * 1024),
  POSTTRAIN_CONCURRENCY: int(1).max(64).default(1),
  POSTTRAIN_CHUNK_STEPS: int(1).default(20),
  POSTTRAIN_BACKEND: z.enum(BACKENDS).default(DEFAULT_BACKEND),
  POSTTRAIN_MEMORY_BUDGET: z.coerce.number().positive().optional(),
  POSTTRAIN_LEASE_MS: int(100).default(15_000),
  POSTTRAIN_PUBLIC_READS: z.enum(["0", "1", "true", "false"]).default("0"),
  POSTTRAIN_BACKENDS: z.string().optional().transform((s, ctx) => {
    if (!s?.trim()) return undefined;
    const list = s.split(",").map((b) => b.trim()).filter(Boolean);
    const bad = list.find((b) => !(BACKENDS as readonly string[]).includes(b));
    if (bad) {
      ctx.addIssue({ code: "custom", message: `unknown backend ${bad} (known: ${BACKENDS.join(", ")})` });
    }
    return list as (typeof BACKENDS)[number][];
  }),
  POSTTRAIN_RATE_LIMIT: z.string().default("off").transform((s, ctx) => {
    try {
      return parseRateLimit(s);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
    }
  }),
  POSTTRAIN_RETENTION: z.string().optional().transform((s, ctx) => {
    if (!s?.trim()) return undefined;
    const m = s.trim().match(/^(\d+(?:\.\d+)?)\s*(d|h|m|s)?$/);
    if (!m) {
      return void ctx.addIssue({
        code: "custom",
        message: `expected an age like 30d, 12h, 90m or 600s, got ${s}`,
      });
    }
    return Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 }[(m[2] ?? "s") as "d"];
  }),
});

const parsed = Env.safeParse(Deno.env.toObject());
if (!parsed.success) {
  const i = parsed.error.issues[0];
  console.error(`error: ${String(i.path[0])}: ${i.message}`);
  Deno.exit(1);
}
const env = parsed.data;
if (env.POSTTRAIN_BACKENDS && !env.POSTTRAIN_BACKENDS.includes(env.POSTTRAIN_BACKEND)) {
  console.error(`error: POSTTRAIN_BACKEND: ${env.POSTTRAIN_BACKEND} is not in POSTTRAIN_BACKENDS`);
  Deno.exit(1);
}

const models = new Map<string, string>();
const builtIn = defaultModelDir();
try {
  if (builtIn && (await Deno.stat(`${builtIn}/config.json`)).isFile) models.set("default", builtIn);
} catch {
  console.error("note: models/default is missing (deno task build:default-model builds it)");
}

function fail(message: string): never {
  console.error(`error: ${message}`);
  Deno.exit(1);
}

/** The playground's library bundle (src/build/browser.ts, run once per server start on first use). */
let web: Promise<string> | undefined;
function webDir(): Promise<string> {
  return web ??= (async () => {
    const out = `${env.POSTTRAIN_DATA_DIR}/web`;
    const build = new URL("./src/build/browser.ts", import.meta.url).pathname;
    const p = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", build, "--out", out],
      stdout: "null",
    })
      .output();
    if (!p.success) {
      web = undefined;
      throw new Error(`building the playground's script failed: ${new TextDecoder().decode(p.stderr)}`);
    }
    return out;
  })();
}

/** `deno serve` also marks its module as main; it must not bind a second listener. */
function underDenoServe(): boolean {
  try {
    const argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
    return argv.slice(1).find((a) => !a.startsWith("-")) === "serve";
  } catch {
    return false;
  }
}

// `deno run`: take the port first, and only then touch any job, so a second server on a busy port fails
// without changing anything (servers on other ports may share the data dir: jobs move under leases).
const { promise: ready, resolve: started } = Promise.withResolvers<Service>();
let port: number | undefined;
if (import.meta.main && !underDenoServe()) {
  try {
    port = Deno.serve(
      { port: env.PORT, onListen: ({ port }) => console.error(`posttrain: listening on :${port}`) },
      // the connection info goes along as the app's env (the rate limit keys on the remote address)
      async (req, info) => (await ready).app.fetch(req, info),
    ).addr.port;
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) fail(`port ${env.PORT} is in use (PORT)`);
    throw e;
  }
}
createService({
  models,
  modelsRoot: env.POSTTRAIN_MODELS_ROOT,
  token: env.POSTTRAIN_TOKEN,
  publicReads: env.POSTTRAIN_PUBLIC_READS === "1" || env.POSTTRAIN_PUBLIC_READS === "true",
  rateLimit: env.POSTTRAIN_RATE_LIMIT,
  backends: env.POSTTRAIN_BACKENDS,
  retentionMs: env.POSTTRAIN_RETENTION,
  dataDir: env.POSTTRAIN_DATA_DIR,
  kv: env.POSTTRAIN_KV === "memory" ? false : env.POSTTRAIN_KV ?? true,
  maxBodyBytes: env.POSTTRAIN_MAX_BODY,
  concurrency: env.POSTTRAIN_CONCURRENCY,
  chunkSteps: env.POSTTRAIN_CHUNK_STEPS,
  defaultBackend: env.POSTTRAIN_BACKEND,
  memoryBudgetMb: env.POSTTRAIN_MEMORY_BUDGET,
  leaseMs: env.POSTTRAIN_LEASE_MS,
  port,
  playground: {
    script: async () => await Deno.readFile(`${await webDir()}/posttrain.js`),
    kernels: () => Deno.readFile(new URL("./wasm/kernels.wasm", import.meta.url)),
  },
}).then(started, (e) => fail((e as Error).message));
await ready;

/** The request handler, for `deno serve main.ts`. */
const server: Deno.ServeDefaultExport = { fetch: async (req, info) => (await ready).app.fetch(req, info) };
export default server;

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  try {
    Deno.addSignalListener(sig, async () => {
      // running jobs stop at their next step, checkpoint, and resume on the next start
      await Promise.race([(await ready).close(), new Promise((r) => setTimeout(r, 30_000))]);
      Deno.exit(0);
    });
  } catch { /* signals unsupported here */ }
}
