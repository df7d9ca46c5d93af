/**
 * posttrain: post-train small decoder LLMs (GPT-2 and the LLaMA family) in Deno, on onnxruntime.
 *
 * The operations, as typed functions (the CLI and the HTTP jobs call the same code):
 *
 * ```ts ignore
 * import { evaluate, exportModel, finetune, generate } from "posttrain";
 * const rows = [{ question: "Who wrote Hamlet?", answer: " Shakespeare" }];
 * const r = await finetune({ model: "default", data: rows, out: "./tuned", steps: 20, lr: 1e-3 });
 * const { loss, ppl } = await evaluate({ model: "./tuned", data: rows });
 * const { text } = await generate({ model: "./tuned", prompt: "Who wrote Hamlet?" });
 * await exportModel({ model: "./tuned", out: "./tuned-web" }); // for transformers.js
 * ```
 *
 * The HTTP service, embedded in another Hono app:
 *
 * ```ts ignore
 * import { Hono } from "npm:hono@4.13.19";
 * import { createApp } from "posttrain";
 * const app = new Hono().route("/ml", createApp({ models: new Map([["default", "./models/default"]]) }));
 * Deno.serve(app.fetch);
 * ```
 *
 * Unlearning and coreset selection (the CLI's `unlearn` / `coreset`):
 *
 * ```ts ignore
 * import { coreset, finetune, unlearn } from "posttrain";
 * await unlearn({ model: "./tuned", forget: "forget.jsonl", retain: "retain.jsonl", method: "kfade", out: "./clean" });
 * const { indices } = await coreset({ model: "default", method: "cld", data: "mix.jsonl", val: "val.jsonl", k: 100 });
 * await finetune({ model: "default", data: "mix.jsonl", dataIndices: indices, out: "./tuned-core" });
 * ```
 *
 * The engine underneath:
 *
 * ```ts ignore
 * import { loadModel, ModelRunner, makeBatch } from "posttrain";
 * const m = await loadModel("./my-model");
 * const runner = new ModelRunner(m.config, "wasm");
 * const batch = makeBatch([{ inputIds: Int32Array.of(1, 2, 3), labels: Int32Array.of(2, 3, -100), row: 1 }]);
 * const { lossSum, grads } = await runner.lossAndGrad(m.weights, batch);
 * ```
 * @module
 */
export * from "./src/graph/mod.ts";
export { type HostTensor } from "./src/runtime/session.ts";
export { type Backend, BACKENDS } from "./src/runtime/backend.ts";
export {
  compile,
  type CompileOptions,
  type MemoryPlan,
  type Program,
  type RunOptions,
} from "./src/runtime/compile.ts";
export { BUDGETS_MB, type PlanRequest, planRun, type RunPlan } from "./src/train/plan.ts";
export { wasmThreads, type WasmThreadsReport } from "./src/runtime/session.ts";
export { type DecoderConfig, parseConfig, toHfConfig } from "./src/models/config.ts";
export { buildForward, buildLossGraph, paramSpecs } from "./src/models/model.ts";
export { type LoadedModel, loadModel } from "./src/models/load.ts";
export { type LossAndGrad, ModelRunner } from "./src/models/runner.ts";
export type { Weights } from "./src/models/weights.ts";
export { initParams, type ParamSpec } from "./src/models/params.ts";
export { loadModelDir, saveModelDir } from "./src/io/hf_dir.ts";
export {
  type FileInfo,
  isNotFound,
  MemoryStorage,
  MountStorage,
  NotFoundError,
  type RandomAccessFile,
  setStorage,
  type Storage,
  storage,
  UrlStorage,
} from "./src/io/storage.ts";
export { type DurableObjectKv, DurableStorage } from "./src/io/durable_storage.ts";
export { type Host, host, setHost } from "./src/util/host.ts";
export { configureSharedDevice } from "./src/runtime/lean/program.ts";
export { readSafetensors, serializeSafetensors, writeSafetensors } from "./src/io/safetensors.ts";
export { parseJsonl, readJsonl, type Row } from "./src/data/rows.ts";
export { encodeRows, loadTokenizer } from "./src/data/tokenize.ts";
export type { Example } from "./src/data/example.ts";
export { type Batch, makeBatch } from "./src/data/batch.ts";
export { AdamW, type AdamWOptions } from "./src/optim/adamw.ts";
export { kernels, setKernels } from "./src/linalg/active.ts";
export { type LinalgKernels, referenceKernels } from "./src/linalg/mod.ts";
export { kernelsFromModule, WasmKernels } from "./wasm/mod.ts";
export {
  type CoresetTrainOptions,
  defaultModelDir,
  evaluate,
  type EvaluateOptions,
  type EvaluateResult,
  exportModel,
  type ExportModelOptions,
  finetune,
  type FinetuneMethod,
  type FinetuneOptions,
  type FinetuneResult,
  generate,
  type GenerateTextOptions,
  loadModelWithAdapters,
  type LoraOptions,
  resolveModelDir,
  type StepInfo,
  type TrainHyperparameters,
} from "./src/api.ts";
export { PosttrainError } from "./src/errors.ts";
export { ApiError, httpStatus } from "./routes/_common.ts";
export {
  coreset,
  type CoresetMethod,
  type CoresetModelOptions,
  type CoresetSettings,
  type Selection,
  unlearn,
  type UnlearnMethod,
  type UnlearnModelOptions,
  type UnlearnModelResult,
  type UnlearnSettings,
} from "./src/api_unlearn.ts";
export {
  type AppOptions,
  createApp,
  createRunner,
  createService,
  DEFAULT_MAX_BODY,
  type Service,
  type ServiceOptions,
} from "./routes/app.ts";
export { type ClientOptions, type paths as ApiPaths, posttrainClient } from "./routes/client/client.ts";
export { JobRunner, type RunnerOptions } from "./src/jobs/runner.ts";
export { type Executor, InlineExecutor, type InlineExecutorOptions } from "./src/jobs/executor.ts";
export { WorkerExecutor, type WorkerExecutorOptions } from "./src/jobs/executor_worker.ts";
export type {
  ArtifactInfo,
  JobError,
  JobProgress,
  JobRecord,
  JobStatus,
  JobStore,
  ListOptions,
} from "./src/jobs/store.ts";
export { MemoryJobStore } from "./src/jobs/memory_store.ts";
export { KvJobStore } from "./src/jobs/kv_store.ts";
export { ArtifactStore } from "./src/jobs/artifacts.ts";
export { ModelRegistry, type ModelRegistryOptions } from "./src/jobs/models.ts";
