/**
 * Soak (issue 12): the real server (`deno run -A main.ts`, default settings: wasm at its default
 * threads, jobs and generation on workers, KV store) beside two CPU burners (`sh -c 'while :; do :;
 * done'`), fed `--jobs` fine-tune and eval jobs on the default model (one eval carries an 8 MB text
 * with truncate: true), then `--requests` concurrent generate and GET requests while the jobs run.
 * `/health` is sampled every 100 ms throughout. Scenario `plain` runs it as is; `kill` SIGKILLs the
 * server once a third of the jobs are done and a fine-tune is mid-run (past a checkpoint when it has
 * one), restarts it on the same data dir and fires the requests at the restarted server. Everything is bounded: a request
 * waits at most 120 s, a scenario `--timeout-s`; a job not done by then or a request not answered
 * counts as a hang. Prints one JSON line per scenario: hangs, 5xx, /health p50/p99/max, jobs
 * succeeded, requests answered, wall time.
 * Usage: deno task bench:soak [--jobs 20] [--requests 200] [--scenarios plain,kill] [--timeout-s 1800]
 *        [--burners 2]
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const { values: a } = parseArgs({
  options: {
    jobs: { type: "string", default: "20" },
    requests: { type: "string", default: "200" },
    scenarios: { type: "string", default: "plain,kill" },
    "timeout-s": { type: "string", default: "1800" },
    burners: { type: "string", default: "2" },
  },
});
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const JOBS = Number(a.jobs), REQUESTS = Number(a.requests), TIMEOUT_MS = Number(a["timeout-s"]) * 1000;
const rows = (await Deno.readTextFile(join(ROOT, "data/new_facts.train.jsonl"))).trim().split("\n")
  .slice(0, 8).map((l) => JSON.parse(l));
const BIG = Array.from({ length: 1_200_000 }, (_, i) => ["the", "archaeologist", "Grejez", "1977,"][i % 4])
  .join(" "); // ≈ 8 MB

/**
 * The i-th job: fine-tunes (batch 2; every other one 30 steps, so it checkpoints at the default
 * 20-step chunk) and evals alternate; job 1 is the 8 MB eval.
 */
function jobBody(i: number): Record<string, unknown> {
  if (i === 1) return { type: "eval", model: "default", data: [{ text: BIG }], truncate: true };
  if (i % 2 === 1) return { type: "eval", model: "default", data: rows, batch_size: 4 };
  const steps = i % 4 === 0 ? 30 : 10;
  return {
    type: "finetune",
    model: "default",
    data: rows,
    steps,
    lr: 1e-3,
    batch_size: 2,
    warmup: 2,
    seed: i,
  };
}

interface Server {
  url: string;
  kill(sig: Deno.Signal): Promise<void>;
}

async function startServer(data: string, log: string): Promise<Server> {
  const l = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const out = await Deno.open(log, { append: true, create: true, write: true });
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts"],
    cwd: ROOT,
    env: { POSTTRAIN_DATA_DIR: data, PORT: String(port), NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const piping = proc.stderr.pipeTo(out.writable).catch(() => {});
  const url = `http://127.0.0.1:${port}`;
  const kill = async (sig: Deno.Signal) => {
    try {
      proc.kill(sig);
    } catch { /* gone */ }
    await proc.status;
    await piping;
  };
  for (const t0 = Date.now(); Date.now() - t0 < 120_000;) {
    try {
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) });
      await r.body?.cancel();
      if (r.ok) return { url, kill };
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  await kill("SIGKILL");
  throw new Error(`server did not start (log: ${log})`);
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) * p)] ?? NaN;
const ms = (x: number) => Math.round(x * 10) / 10;

async function scenario(name: "plain" | "kill") {
  const data = await Deno.makeTempDir({ prefix: "soak-" }), log = join(data, "server.log");
  const t0 = Date.now(), deadline = t0 + TIMEOUT_MS;
  let srv = await startServer(data, log);
  const counts = { status5xx: 0, hangs: 0, requestsOk: 0, requestsFailed: 0, health: [] as number[] };
  const call = async (path: string, init?: RequestInit) => {
    try {
      const r = await fetch(`${srv.url}${path}`, { ...init, signal: AbortSignal.timeout(120_000) });
      const body = await r.text();
      if (r.status >= 500) counts.status5xx++;
      return { status: r.status, body };
    } catch (e) {
      if ((e as Error).name === "TimeoutError") counts.hangs++;
      return { status: 0, body: String(e) };
    }
  };
  let sampling = true, killed = false;
  const sampler = (async () => {
    while (sampling) {
      const s = performance.now();
      try {
        const r = await fetch(`${srv.url}/health`, { signal: AbortSignal.timeout(10_000) });
        await r.body?.cancel();
        if (r.ok) counts.health.push(performance.now() - s);
        else if (r.status >= 500) counts.status5xx++;
      } catch (e) {
        if ((e as Error).name === "TimeoutError") counts.hangs++;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const post = (path: string, body: unknown) =>
    call(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    const r = await post("/v1/jobs", jobBody(i));
    if (r.status !== 202) throw new Error(`job ${i}: ${r.status} ${r.body.slice(0, 300)}`);
    ids.push(JSON.parse(r.body).id);
  }
  const blast = async () => {
    const res = await Promise.all(
      Array.from(
        { length: REQUESTS },
        (_, i) =>
          i % 2 === 0
            ? post("/v1/generate", { model: "default", prompt: `Shis Grejez ${i}`, max_new_tokens: 8 })
            : call(i % 4 === 1 ? "/v1/jobs?limit=50" : `/v1/jobs/${ids[i % ids.length]}`),
      ),
    );
    for (const r of res) r.status === 200 ? counts.requestsOk++ : counts.requestsFailed++;
  };
  let blasting: Promise<void> | undefined;
  let jobs: Record<string, unknown>[] = [];
  while (Date.now() < deadline) {
    const r = await call("/v1/jobs?limit=1000");
    if (r.status === 200) jobs = JSON.parse(r.body).data.filter((j: { id: string }) => ids.includes(j.id));
    const done = jobs.filter((j) => ["succeeded", "failed", "canceled"].includes(j.status as string));
    if (done.length === JOBS) break;
    const running = jobs.find((j) => j.status === "running") as
      | { type: string; progress: { step: number; checkpoint_step?: number } }
      | undefined;
    // mid-run: past a checkpoint when there is one, else a few steps in (the job then starts over)
    if (
      name === "kill" && !killed && done.length >= JOBS / 3 && running?.type === "finetune" &&
      running.progress.step > (running.progress.checkpoint_step ?? 2)
    ) {
      killed = true;
      await srv.kill("SIGKILL");
      srv = await startServer(data, log);
    }
    if (!blasting && running && (name === "plain" || killed)) blasting = blast();
    await new Promise((r) => setTimeout(r, 1000));
  }
  await blasting;
  sampling = false;
  await sampler;
  await srv.kill("SIGTERM");
  const ok = jobs.filter((j) => j.status === "succeeded");
  const unfinished = JOBS -
    jobs.filter((j) => ["succeeded", "failed", "canceled"].includes(j.status as string)).length;
  const failed = jobs.filter((j) => j.status === "failed").map((j) => ({ id: j.id, error: j.error }));
  console.log(JSON.stringify({
    scenario: name,
    hangs: counts.hangs + unfinished,
    status_5xx: counts.status5xx,
    jobs_succeeded: `${ok.length}/${JOBS}`,
    resumed_jobs: jobs.filter((j) => (j.resumes as number) > 0).length,
    requests_ok: `${counts.requestsOk}/${REQUESTS}`,
    health_p50_ms: ms(pct(counts.health, 0.5)),
    health_p99_ms: ms(pct(counts.health, 0.99)),
    health_max_ms: ms(Math.max(...counts.health)),
    health_samples: counts.health.length,
    wall_s: Math.round((Date.now() - t0) / 1000),
    ...(failed.length ? { failed } : {}),
    log,
  }));
}

const burners = Array.from(
  { length: Number(a.burners) },
  () => new Deno.Command("sh", { args: ["-c", "while :; do :; done"], stdout: "null" }).spawn(),
);
const stopBurners = () => burners.forEach((b) => b.kill("SIGKILL"));
Deno.addSignalListener("SIGINT", () => (stopBurners(), Deno.exit(130)));
try {
  console.error(
    `soak: ${JOBS} jobs, ${REQUESTS} requests, ${burners.length} CPU burners, load ${Deno.loadavg()[0]}`,
  );
  for (const s of a.scenarios!.split(",")) await scenario(s as "plain" | "kill");
} finally {
  stopBurners();
  await Promise.all(burners.map((b) => b.status));
}
