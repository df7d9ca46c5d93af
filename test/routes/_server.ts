/** Test helper: run the real server (`deno run -A main.ts`) on a free port in a subprocess. */
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A free TCP port (bind to 0, read it, release it). */
export function freePort(): number {
  const l = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}

/** A running server process. */
export interface Server {
  url: string;
  proc: Deno.ChildProcess;
  /** Everything it wrote to stderr so far. */
  log: () => string;
  /** SIGKILL (a crash) and wait for exit. */
  kill: () => Promise<void>;
  /** SIGTERM and wait for exit. */
  stop: () => Promise<void>;
}

/** Start main.ts with `env` on a free port and wait for /health. */
export async function startServer(env: Record<string, string>): Promise<Server> {
  const port = freePort();
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts"],
    cwd: ROOT,
    env: { ...env, PORT: String(port) },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const reading = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr) log += dec.decode(chunk);
  })();
  const url = `http://127.0.0.1:${port}`;
  const end = async (sig: Deno.Signal) => {
    const kill = (s: Deno.Signal) => {
      try {
        proc.kill(s);
      } catch { /* already gone */ }
    };
    kill(sig);
    // a graceful stop waits for the running step; never wait forever
    const force = setTimeout(() => kill("SIGKILL"), 20_000);
    await proc.status;
    clearTimeout(force);
    await reading;
  };
  for (let i = 0; i < 600; i++) {
    try {
      const r = await fetch(`${url}/health`);
      await r.body?.cancel();
      if (r.ok) return { url, proc, log: () => log, kill: () => end("SIGKILL"), stop: () => end("SIGTERM") };
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  await end("SIGKILL");
  throw new Error(`server did not start:\n${log}`);
}

/** Follow `GET /v1/jobs/:id/events` to its end; returns the events in order. */
export async function followSse(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const res = await fetch(url, { headers });
  if (!res.ok || res.headers.get("content-type") !== "text/event-stream") {
    throw new Error(`${url}: ${res.status} ${await res.text()}`);
  }
  const events: { event: string; data: Record<string, unknown> }[] = [];
  let buf = "";
  const dec = new TextDecoder();
  for await (const chunk of res.body!) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const lines = block.split("\n");
      const event = lines.find((l) => l.startsWith("event:"))?.slice(6).trim();
      const data = lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
      if (event && data) events.push({ event, data: JSON.parse(data) });
    }
  }
  return events;
}

/** Whether the built-in model is present (the e2e tests skip without it). */
export async function hasDefaultModel(): Promise<boolean> {
  try {
    return (await Deno.stat(`${ROOT}models/default/config.json`)).isFile;
  } catch {
    return false;
  }
}
