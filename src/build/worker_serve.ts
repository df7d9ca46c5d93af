/**
 * @module `deno task worker:serve`: the HTTP API inside Cloudflare's workerd (the npm package `workerd`)
 * on `PORT` (default 8787), from the bundle of `deno task build:worker` (built into
 * `POSTTRAIN_DATA_DIR/worker` unless `--bundle DIR` names a built one). workerd runs from a generated
 * config: the bundle's three modules, the Durable Object's storage on local disk
 * (`POSTTRAIN_DATA_DIR/worker-data`, default `.posttrain/worker-data`), and as text bindings the `[vars]` of
 * the bundle's wrangler.toml, overridden by `POSTTRAIN_TOKEN`, `POSTTRAIN_MAX_BODY`, `POSTTRAIN_CHUNK_STEPS`,
 * `POSTTRAIN_LEAN_RESERVE_MB`, `POSTTRAIN_MEMORY_BUDGET` from the environment. Jobs survive a restart of workerd (their records, checkpoints and
 * artifacts are in that storage).
 */
import { join } from "../io/path.ts";
import { buildWorker } from "./worker.ts";

/** The variables passed to the Worker as bindings (when set). */
export const WORKER_VARS = [
  "POSTTRAIN_TOKEN",
  "POSTTRAIN_MAX_BODY",
  "POSTTRAIN_CHUNK_STEPS",
  "POSTTRAIN_LEAN_RESERVE_MB",
  "POSTTRAIN_MEMORY_BUDGET",
  "POSTTRAIN_DO_VALUE_KB",
];

/**
 * The `[vars]` of a bundle's wrangler.toml (`KEY = "value"` lines), so workerd runs with what a deploy gets.
 *
 * @example
 * ```ts
 * wranglerVars('[vars]\nPOSTTRAIN_CHUNK_STEPS = "5"\n'); // { POSTTRAIN_CHUNK_STEPS: "5" }
 * ```
 */
export function wranglerVars(toml: string): Record<string, string> {
  const out: Record<string, string> = {};
  let inVars = false;
  for (const line of toml.split("\n")) {
    if (/^\s*\[/.test(line)) inVars = line.trim() === "[vars]";
    const m = inVars && line.match(/^\s*([A-Z0-9_]+)\s*=\s*("(?:[^"\\]|\\.)*")\s*$/);
    if (m) out[m[1]] = JSON.parse(m[2]);
  }
  return out;
}

/** The workerd binary of the npm package. */
export async function workerdBinary(): Promise<{ path: string; compatibilityDate: string }> {
  const m = (await import("npm:workerd@1.20261117.1")).default as {
    default: string;
    compatibilityDate: string;
  };
  return { path: m.default, compatibilityDate: m.compatibilityDate };
}

const str = (s: string) => JSON.stringify(s);

/**
 * A workerd config (Cap'n Proto text, written into the bundle's folder: workerd embeds files relative
 * to the config) serving the bundle on `port`, its Durable Object storage in `storageDir`, `vars` as text
 * bindings.
 *
 * @example
 * ```ts ignore
 * await Deno.writeTextFile("dist/worker/workerd.capnp", workerdConfig({ port: 8787, storageDir: "/tmp/do", assetsDir: "/srv/dist/worker/public", vars: {}, compatibilityDate: "2026-11-17" }));
 * ```
 */
export function workerdConfig(o: {
  port: number;
  storageDir: string;
  /** The bundle's static assets (`public/`). */
  assetsDir: string;
  vars: Record<string, string>;
  compatibilityDate: string;
  /** V8 flags of the process (e.g. `--max-semi-space-size=1`). */
  v8Flags?: string[];
}): string {
  const bindings = [
    `(name = "JOBS", durableObjectNamespace = "PosttrainJobs")`,
    `(name = "ASSETS", service = "assets")`,
    ...Object.entries(o.vars).map(([k, v]) => `(name = ${str(k)}, text = ${str(v)})`),
  ];
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .posttrain),
    (name = "do-disk", disk = (path = ${str(o.storageDir)}, writable = true)),
    (name = "assets", disk = (path = ${str(o.assetsDir)})),
  ],
  sockets = [ (name = "http", address = ${str(`127.0.0.1:${o.port}`)}, http = (), service = "main") ],
  v8Flags = [ ${(o.v8Flags ?? []).map(str).join(", ")} ],
);
const posttrain :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "kernels.wasm", wasm = embed "kernels.wasm"),
    (name = "model.bin", data = embed "model.bin"),
  ],
  compatibilityDate = ${str(o.compatibilityDate)},
  durableObjectNamespaces = [ (className = "PosttrainJobs", uniqueKey = "posttrain-jobs", enableSql = true) ],
  durableObjectStorage = (localDisk = "do-disk"),
  bindings = [ ${bindings.join(",\n    ")} ],
);
`;
}

/** Options of {@link startWorkerd}. */
export interface WorkerdOptions {
  /** A built bundle (see `build:worker`). */
  bundle: string;
  port: number;
  /** Durable Object storage dir (created). */
  storageDir: string;
  /** Text bindings over the bundle's wrangler.toml `[vars]`. */
  vars?: Record<string, string>;
  /** Where workerd's output goes (default: inherited). */
  stdout?: "inherit" | "piped" | "null";
  /** V8 flags of the process. */
  v8Flags?: string[];
}

/**
 * Start workerd on the bundle; resolves once it answers `/health`. Kill it with `child.kill("SIGKILL")`.
 *
 * @example
 * ```ts ignore
 * const w = await startWorkerd({ bundle: "dist/worker", port: 8787, storageDir: ".posttrain/worker-data" });
 * ```
 */
export async function startWorkerd(o: WorkerdOptions): Promise<{ child: Deno.ChildProcess; config: string }> {
  const { path, compatibilityDate } = await workerdBinary();
  await Deno.mkdir(o.storageDir, { recursive: true });
  const config = join(o.bundle, `workerd-${o.port}.capnp`);
  const abs = (p: string) => (p.startsWith("/") ? p : join(Deno.cwd(), p));
  await Deno.writeTextFile(
    config,
    workerdConfig({
      port: o.port,
      storageDir: abs(o.storageDir),
      assetsDir: abs(join(o.bundle, "public")),
      vars: { ...wranglerVars(await Deno.readTextFile(join(o.bundle, "wrangler.toml"))), ...o.vars },
      compatibilityDate,
      v8Flags: o.v8Flags,
    }),
  );
  const child = new Deno.Command(path, {
    args: ["serve", config, "--experimental"],
    stdout: o.stdout ?? "inherit",
    stderr: o.stdout ?? "inherit",
    stdin: "null",
  }).spawn();
  const t0 = Date.now();
  let exited = false;
  child.status.then(() => (exited = true));
  while (true) {
    if (exited) throw new Error(`workerd exited before answering on :${o.port}`);
    try {
      const r = await fetch(`http://127.0.0.1:${o.port}/health`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() - t0 > 120_000) {
      child.kill("SIGKILL");
      throw new Error(`workerd did not answer on :${o.port} within 120 s`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, config };
}

if (import.meta.main) {
  const port = Number(Deno.env.get("PORT") ?? 8787);
  const dataDir = Deno.env.get("POSTTRAIN_DATA_DIR") ?? ".posttrain";
  const i = Deno.args.indexOf("--bundle");
  let bundle = i >= 0 ? Deno.args[i + 1] : undefined;
  if (!bundle) {
    bundle = join(dataDir, "worker");
    const built = await buildWorker({ out: bundle });
    console.error(
      `posttrain: built ${bundle} (${(built.total_gzip_bytes / 2 ** 20).toFixed(1)} MB compressed)`,
    );
  }
  const vars = Object.fromEntries(
    WORKER_VARS.flatMap((k) => (Deno.env.get(k) === undefined ? [] : [[k, Deno.env.get(k)!]])),
  );
  const { child } = await startWorkerd({ bundle, port, storageDir: join(dataDir, "worker-data"), vars });
  console.error(`posttrain: workerd listening on :${port}`);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => child.kill(sig));
  }
  Deno.exit((await child.status).code);
}
