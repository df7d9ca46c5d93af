/**
 * Helpers of the edge tests: whether a runtime we did not write is installed (skipping with a clear
 * message where it cannot be, failing instead under CI), a free port, the Deno `lean` reference run of
 * a job request, and adapters compared tensor by tensor.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseSafetensors, toFloat32 } from "../../src/io/safetensors.ts";
import { testApp, tinyModelDir, waitJob } from "../routes/_app.ts";

/** Under CI (the `CI` variable) a missing runtime fails the test instead of skipping it. */
export const IN_CI = !!Deno.env.get("CI");

/**
 * `why` is undefined when the runtime is available; else the test is skipped with that message
 * (printed once), or fails under CI.
 */
export function skipUnless(name: string, why: string | undefined): boolean {
  if (why === undefined) return false;
  if (IN_CI) throw new Error(`${name} is required under CI: ${why}`);
  console.error(`%cskipping the ${name} tests: ${why}`, "color: yellow");
  return true;
}

/** A port nothing listens on. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A tiny model dir (tiny LLaMA + BPE tokenizer) under a new temp dir. */
export async function tinyModel(): Promise<{ root: string; model: string }> {
  const root = await Deno.makeTempDir({ prefix: "posttrain-edge-" });
  return { root, model: await tinyModelDir(join(root, "tiny")) };
}

/** Rows of the equivalence runs. */
export const EDGE_ROWS = [
  { prompt: "the hello", completion: " world" },
  { text: "hello the world, hello" },
  { question: "who?", answer: " the hello" },
  { text: "the world the hello" },
];

/** A LoRA job request on the model named `default`. */
export function loraRequest(steps: number): Record<string, unknown> {
  return {
    type: "finetune",
    model: "default",
    method: "lora",
    data: EDGE_ROWS,
    steps,
    batch_size: 2,
    lr: 0.01,
    rank: 4,
    seed: 7,
    backend: "lean",
  };
}

/** The adapter of `req` run by the Deno service in-process on `lean`, the model registered as default. */
export async function denoAdapter(
  model: string,
  req: Record<string, unknown>,
): Promise<Map<string, Float32Array>> {
  const t = await testApp({ models: new Map([["default", model]]), defaultBackend: "lean" });
  try {
    const res = await t.app.request("/v1/jobs", {
      method: "POST",
      body: JSON.stringify(req),
      headers: { "content-type": "application/json" },
    });
    assert.equal(res.status, 202, await res.clone().text());
    const job = await waitJob(t.app, (await res.json()).id, 300_000);
    assert.equal(job.status, "succeeded", JSON.stringify(job));
    const bytes = await (await t.app.request(`/v1/jobs/${job.id}/artifacts/adapter_model.safetensors`))
      .bytes();
    return tensorsOf(bytes);
  } finally {
    await t.close();
    await Deno.remove(t.dir, { recursive: true });
  }
}

/** The F32 tensors of a safetensors file. */
export function tensorsOf(bytes: Uint8Array): Map<string, Float32Array> {
  return new Map([...parseSafetensors(bytes, "adapter")].map(([k, t]) => [k, toFloat32(t).slice()]));
}

/** Same tensor names, every value within `tol`; returns the largest difference. */
export function assertAdapterClose(
  got: Map<string, Float32Array>,
  want: Map<string, Float32Array>,
  tol = 1e-6,
): number {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  let worst = 0;
  for (const [k, w] of want) {
    const g = got.get(k)!;
    assert.equal(g.length, w.length, k);
    for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]));
  }
  assert.ok(worst <= tol, `largest difference ${worst} > ${tol}`);
  // a LoRA B starts at zero: an adapter that trained moved it
  assert.ok(
    [...want].some(([k, w]) => k.includes("lora_B") && w.some((x) => x !== 0)),
    "the adapter did not train",
  );
  return worst;
}
