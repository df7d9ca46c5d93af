/**
 * `deno task bench:edge`: the built-in model's fine-tunes inside runtimes we did not write.
 *
 *   deno task bench:edge [--rows workerd-lora,workerd-full,workerd-galore,chromium-lora] [--steps 20]
 *                        [--chunk-steps 5] [--reserve-mb 4096]
 *
 * Each job: `data/new_facts.train.jsonl` (156 text rows), batch 4, lr 1e-3, LoRA r8 / full AdamW / GaLore r8,
 * on `lean` (the same job as bench:memory's default rows). workerd rows: a fresh workerd (npm package) per
 * row on the build:worker bundle (INT8 model; the lean device reserving `--reserve-mb`: untouched pages cost
 * no RSS, and the deployable 112 MiB holds the LoRA job but not full AdamW), the job submitted over HTTP and advanced one chunk per
 * Durable Object alarm; isolate memory = the workerd process's peak RSS (VmHWM) minus its RSS when idle
 * (after `/health` and one `GET /v1/models`); CPU ms per chunk = the process's CPU time (utime + stime)
 * over the job ÷ chunks, beside the wall ms each chunk logs. Chromium row: the /playground page of a Deno
 * server fine-tunes in a Web Worker of the tab; peak = the renderer's VmHWM minus its RSS after the page
 * loaded. Prints a Markdown table and one JSON line.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { launchChromium } from "../src/build/chromium.ts";
import { buildWorker } from "../src/build/worker.ts";
import { buildBrowser } from "../src/build/browser.ts";
import { startWorkerd } from "../src/build/worker_serve.ts";
import { readJsonl } from "../src/data/rows.ts";
import { createApp, createRunner } from "../routes/app.ts";

const { values: a } = parseArgs({
  options: {
    rows: { type: "string", default: "workerd-lora,workerd-full,workerd-galore,chromium-lora" },
    steps: { type: "string", default: "20" },
    "chunk-steps": { type: "string", default: "5" },
    "reserve-mb": { type: "string", default: "4096" },
  },
});
const steps = Number(a.steps), chunkSteps = Number(a["chunk-steps"]);
const rows = await readJsonl("data/new_facts.train.jsonl");
const TICK = 1000 / 100; // /proc/<pid>/stat CPU times are in clock ticks (USER_HZ = 100 on Linux)

function request(method: string): Record<string, unknown> {
  return {
    type: "finetune",
    model: "default",
    method,
    data: rows,
    steps,
    batch_size: 4,
    lr: 1e-3,
    rank: 8,
    seed: 0,
  };
}

const status = (pid: number, key: string) =>
  Number(Deno.readTextFileSync(`/proc/${pid}/status`).match(new RegExp(`${key}:\\s+(\\d+) kB`))![1]) / 1024;
const cpuMs = (pid: number) => {
  const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * TICK;
};
/** BENCH_EDGE_LOG=1: workerd's stderr as it comes. */
const LOG = !!Deno.env.get("BENCH_EDGE_LOG");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitJob(base: string, id: string): Promise<Record<string, unknown>> {
  while (true) {
    const res = await fetch(`${base}/v1/jobs/${id}`);
    if (!res.ok) throw new Error(`GET /v1/jobs/${id}: ${res.status} ${await res.text()}`);
    const j = await res.json();
    if (["succeeded", "failed", "canceled"].includes(j.status)) return j;
    await sleep(250);
  }
}

async function workerdRow(bundle: string, method: string) {
  const port = 18000 + Math.floor(Math.random() * 2000), base = `http://127.0.0.1:${port}`;
  const storageDir = await Deno.makeTempDir({ prefix: "posttrain-bench-do-" });
  const vars = { POSTTRAIN_CHUNK_STEPS: String(chunkSteps), POSTTRAIN_LEAN_RESERVE_MB: a["reserve-mb"]! };
  const w = await startWorkerd({ bundle, port, storageDir, vars, stdout: "piped" });
  const chunks: { ms: number }[] = [];
  const lines = (async () => {
    const dec = w.child.stdout.pipeThrough(new TextDecoderStream());
    let buf = "";
    for await (const t of dec) {
      buf += t;
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('{"chunk"')) chunks.push(JSON.parse(line));
      }
    }
  })();
  let errors = "";
  const errs = (async () => {
    for await (const t of w.child.stderr.pipeThrough(new TextDecoderStream())) {
      if (LOG) console.error(t.trimEnd());
      errors = (errors + t).slice(-4000);
    }
  })();
  try {
    const pid = w.child.pid;
    await (await fetch(`${base}/v1/models`)).body?.cancel();
    await sleep(1000);
    const idle = status(pid, "VmRSS"), cpu0 = cpuMs(pid), t0 = Date.now();
    const res = await fetch(`${base}/v1/jobs`, {
      method: "POST",
      body: JSON.stringify(request(method)),
      headers: { "content-type": "application/json" },
    });
    const { id } = await res.json();
    const job = await waitJob(base, id).catch((e) => {
      throw new Error(`workerd ${method}: ${(e as Error).message}\n${errors}`);
    });
    if (job.status !== "succeeded") throw new Error(`workerd ${method}: ${JSON.stringify(job.error)}`);
    const cpu = cpuMs(pid) - cpu0, peak = status(pid, "VmHWM");
    const result = job.result as Record<string, number>;
    return {
      row: `workerd-${method}`,
      idle_mb: Math.round(idle),
      peak_mb: Math.round(peak),
      job_mb: Math.round(peak - idle),
      chunks: chunks.length,
      cpu_ms_per_chunk: Math.round(cpu / Math.max(1, chunks.length)),
      chunk_wall_ms: chunks.map((c) => c.ms),
      seconds: Math.round((Date.now() - t0) / 100) / 10,
      loss: [result.loss_start, result.loss_end].map((x) => Math.round(x * 1000) / 1000),
    };
  } finally {
    w.child.kill("SIGKILL");
    await w.child.status;
    await lines.catch(() => {});
    await errs.catch(() => {});
    await Deno.remove(storageDir, { recursive: true });
  }
}

/** Chromium's renderer processes (their pids), children of the browser process. */
function renderers(): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (cmd.includes("chromium") && cmd.includes("--type=renderer")) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

async function chromiumRow(web: string) {
  const runner = createRunner({ models: new Map([["default", "models/default"]]), defaultBackend: "lean" });
  const app = createApp({
    runner,
    playground: {
      script: () => Deno.readFile(join(web, "posttrain.js")),
      kernels: () => Deno.readFile(join(web, "kernels.wasm")),
    },
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const profile = await Deno.makeTempDir({ prefix: "posttrain-bench-chromium-" });
  const before = new Set(renderers());
  const browser = await launchChromium(profile, { protocolTimeout: 1_800_000 });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.addr.port}/playground`);
    await sleep(1000);
    const mine = renderers().filter((p) => !before.has(p));
    const idle = new Map(mine.map((p) => [p, status(p, "VmRSS")]));
    const t0 = Date.now();
    type Tab = { losses: number[]; ms: number };
    const res = await page.evaluate(
      (body) =>
        (globalThis as unknown as { posttrainPlayground: { run(b: unknown): Promise<Tab> } })
          .posttrainPlayground
          .run(body).then((r) => ({ losses: r.losses, ms: r.ms })),
      request("lora"),
    );
    // the renderer that ran the page (and its worker) grew the most
    const [pid, grew] = mine.map((p) => [p, status(p, "VmHWM") - idle.get(p)!] as const)
      .sort((x, y) => y[1] - x[1])[0];
    return {
      row: "chromium-lora",
      idle_mb: Math.round(idle.get(pid)!),
      peak_mb: Math.round(status(pid, "VmHWM")),
      job_mb: Math.round(grew),
      seconds: Math.round((Date.now() - t0) / 100) / 10,
      loss: [res.losses[0], res.losses.at(-1)!].map((x) => Math.round(x * 1000) / 1000),
    };
  } finally {
    await browser.close();
    await server.shutdown();
    await runner.stop();
    await Deno.remove(profile, { recursive: true });
  }
}

const wanted = a.rows!.split(",");
const tmp = await Deno.makeTempDir({ prefix: "posttrain-bench-edge-" });
const results: Record<string, unknown>[] = [];
try {
  const bundle = wanted.some((r) => r.startsWith("workerd"))
    ? await buildWorker({ out: join(tmp, "worker") })
    : undefined;
  const web = wanted.includes("chromium-lora") ? await buildBrowser(join(tmp, "web")) : undefined;
  if (bundle) {
    console.error(
      `bundle: ${(bundle.total_gzip_bytes / 2 ** 20).toFixed(2)} MB compressed, int8 ${bundle.int8}`,
    );
  }
  for (const row of wanted) {
    const r = row.startsWith("workerd-")
      ? await workerdRow(bundle!.out, row.slice("workerd-".length))
      : await chromiumRow(web!.out);
    console.error(JSON.stringify(r));
    results.push(r);
  }
} finally {
  await Deno.remove(tmp, { recursive: true });
}
console.log(
  `| row | idle RSS MB | peak RSS MB | job (peak − idle) MB | CPU ms / chunk (${chunkSteps} steps) | s |`,
);
console.log("| --- | ----------- | ----------- | -------------------- | ---------------- | - |");
for (const r of results) {
  console.log(
    `| ${r.row} | ${r.idle_mb} | ${r.peak_mb} | ${r.job_mb} | ${r.cpu_ms_per_chunk ?? "—"} | ${r.seconds} |`,
  );
}
console.log(JSON.stringify({ steps, chunk_steps: chunkSteps, results }));
