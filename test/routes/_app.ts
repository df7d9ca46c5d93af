/** Test helpers: a tiny model with a tokenizer, an app over a temp data dir, job polling, SSE parsing. */
import { join } from "node:path";
import { writeModel } from "../cli/_cli.ts";
import { writeTinyTokenizer } from "../data/_fixtures.ts";
import { tinyLlama } from "../models/_tiny.ts";
import { type AppOptions, createApp, createRunner } from "../../routes/app.ts";
import type { JobRunner } from "../../src/jobs/runner.ts";
import type { OpenAPIHono } from "@hono/zod-openapi";

/** A tiny LLaMA (vocab 270, width 32) with the tiny BPE tokenizer, in `dir`. */
export async function tinyModelDir(dir: string): Promise<string> {
  await writeModel(dir, { ...tinyLlama(), vocabSize: 270, hidden: 32, ffn: 64 });
  await writeTinyTokenizer(dir);
  return dir;
}

/** Rows the tiny tokenizer encodes. */
export const ROWS = [
  { prompt: "the hello", completion: " world" },
  { text: "hello the world, hello" },
  { question: "who?", answer: " the hello" },
];

/** An app over a started runner with the tiny model registered as "tiny" (node backend by default). */
export async function testApp(
  opts: AppOptions = {},
): Promise<{ app: OpenAPIHono; runner: JobRunner; dir: string; close: () => Promise<void> }> {
  const dir = await Deno.makeTempDir();
  const tiny = await tinyModelDir(join(dir, "models", "tiny"));
  const full = {
    models: new Map([["tiny", tiny]]),
    dataDir: join(dir, "data"),
    defaultBackend: "node" as const,
    ...opts,
  };
  const runner = createRunner(full);
  await runner.start();
  const app = createApp({ ...full, runner });
  return {
    app,
    runner,
    dir,
    close: async () => {
      await runner.stop();
      runner.store.close();
      runner.models.close();
    },
  };
}

/** POST JSON. */
export function post(
  app: OpenAPIHono,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return Promise.resolve(app.request(path, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  }));
}

/** Poll `GET /v1/jobs/:id` until the job is terminal. */
export async function waitJob(
  app: OpenAPIHono,
  id: string,
  timeoutMs = 120_000,
): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const j = await (await app.request(`/v1/jobs/${id}`)).json();
    if (["succeeded", "failed", "canceled"].includes(j.status)) return j;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${id} did not finish`);
}

/** Parse a whole `text/event-stream` body into events. */
export async function readSse(res: Response): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const text = await res.text();
  const out: { event: string; data: Record<string, unknown> }[] = [];
  for (const block of text.split("\n\n")) {
    const lines = block.split("\n");
    const event = lines.find((l) => l.startsWith("event:"))?.slice(6).trim();
    const data = lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
    if (event && data) out.push({ event, data: JSON.parse(data) });
  }
  return out;
}

/** Hex SHA-256. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}
