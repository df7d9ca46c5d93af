/**
 * @module The library in a browser tab (bundled by `src/build/browser.ts`, served at
 * `/playground/posttrain.js`): {@link finetuneInTab} fine-tunes on the `lean` backend (our WASM kernels,
 * fetched from `kernels.wasm` beside the bundle) with the model read over HTTP and the outputs kept in
 * memory. It takes the body of `POST /v1/jobs` and runs it as a fine-tune job does (same option
 * parsing, same trainer, same writer), so the adapter equals the server's for the same request. Loaded
 * as a module Web Worker it says `ready` once loaded, then answers `{type: "finetune", body, modelUrl}`
 * with `step` messages and `done` with the files (or `error`), so the page stays responsive meanwhile.
 */
import { finetuneOptionsOf, parseJobRequest } from "../jobs/spec.ts";
import { prepareFinetune, saveTrained } from "../train/prepare.ts";
import type { StepInfo } from "../train/trainer.ts";
import { MemoryStorage, MountStorage, setStorage, UrlStorage } from "../io/storage.ts";
import { PosttrainError } from "../errors.ts";

/** What a tab's fine-tune produced. */
export interface TabFinetuneResult {
  /** The output dir's files (a PEFT adapter for LoRA, an HF model dir otherwise), by name. */
  files: Record<string, Uint8Array>;
  /** Loss per optimizer step. */
  losses: number[];
  /** Wall-clock milliseconds of the run (loading included). */
  ms: number;
}

/**
 * Fine-tune in this tab or worker: `body` as `POST /v1/jobs` takes it (type `finetune`), the model dir
 * at `modelUrl` (config.json, model.safetensors, tokenizer files).
 *
 * @example
 * ```ts ignore
 * const { files, losses } = await finetuneInTab(
 *   { type: "finetune", model: "default", method: "lora", data: [{ text: "hi" }], steps: 10 },
 *   "/playground/model/",
 *   (s) => console.log(s.step, s.loss),
 * );
 * ```
 */
export async function finetuneInTab(
  body: unknown,
  modelUrl: string,
  onStep?: (s: StepInfo) => void,
): Promise<TabFinetuneResult> {
  const t0 = performance.now();
  const req = parseJobRequest(body);
  if (req.type !== "finetune") {
    throw new PosttrainError(
      "invalid_request",
      `type: the tab runs fine-tunes, not ${req.type} jobs`,
      "type",
    );
  }
  const out = new MemoryStorage();
  setStorage(new MountStorage({ model: new UrlStorage(modelUrl), "": out }));
  const p = await prepareFinetune({
    modelDir: "model",
    rows: req.data,
    method: req.method,
    truncate: req.truncate,
    backend: "lean",
    options: finetuneOptionsOf(req),
  });
  try {
    await p.trainer.run(onStep);
    await saveTrained("out", p, req.model);
  } finally {
    await p.trainer.release();
  }
  const files: Record<string, Uint8Array> = {};
  for (const e of await out.list("out")) if (e.isFile) files[e.name] = await out.read(`out/${e.name}`);
  return { files, losses: p.trainer.state.losses, ms: performance.now() - t0 };
}

/** The messages a worker running this module answers. */
export type TabMessage =
  | { type: "ready" }
  | { type: "step"; step: number; loss: number; tokensPerS: number }
  | { type: "done"; result: TabFinetuneResult }
  | { type: "error"; message: string };

interface WorkerScope {
  postMessage(m: TabMessage): void;
  onmessage: ((e: MessageEvent<{ type: string; body: unknown; modelUrl: string }>) => void) | null;
}

if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined") {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = async (e) => {
    if (e.data?.type !== "finetune") return;
    try {
      const result = await finetuneInTab(
        e.data.body,
        e.data.modelUrl,
        (s) => scope.postMessage({ type: "step", step: s.step, loss: s.loss, tokensPerS: s.tokensPerS }),
      );
      scope.postMessage({ type: "done", result });
    } catch (err) {
      scope.postMessage({ type: "error", message: (err as Error).message });
    }
  };
  // the kernels load with a top-level await: a message posted before this line would be lost
  scope.postMessage({ type: "ready" });
}
