/** The worker executor's last resort: a worker that goes silent while a call waits is stopped. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { WorkerExecutor } from "../../src/jobs/executor_worker.ts";
import { JobRequestSchema } from "../../src/jobs/spec.ts";
import { ROWS, tinyModelDir } from "../routes/_app.ts";

Deno.test("worker executor: a worker silent past stallMs is stopped, its call failing with a clear error", async () => {
  const dir = await Deno.makeTempDir();
  const tiny = await tinyModelDir(join(dir, "tiny"));
  // a worker's start (modules, tokenizer) alone takes longer than 200 ms without a message
  const exec = new WorkerExecutor({
    dataDir: join(dir, "data"),
    models: new Map([["tiny", tiny]]),
    chunkSteps: 5,
    defaultBackend: "wasm",
    stallMs: 200,
  });
  try {
    const req = JobRequestSchema.parse({ type: "eval", model: "tiny", data: ROWS });
    await assert.rejects(
      exec.accept("job_00000000a_0badf00d", req, { modelDir: tiny, adapters: [] }),
      /^Error: the requests worker sent nothing for \d+ s; it was stopped$/,
    );
  } finally {
    await exec.close();
  }
});
