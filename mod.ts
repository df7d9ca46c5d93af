/**
 * posttrain: post-train small decoder LLMs (GPT-2 and the LLaMA family) in Deno, on onnxruntime.
 *
 * @example
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
export {
  type Backend,
  BACKENDS,
  createSession,
  type HostTensor,
  type Session,
} from "./src/runtime/session.ts";
export { type DecoderConfig, parseConfig, toHfConfig } from "./src/models/config.ts";
export { buildForward, buildLossGraph, paramSpecs } from "./src/models/model.ts";
export { type LoadedModel, loadModel } from "./src/models/load.ts";
export { type LossAndGrad, ModelRunner, type Weights } from "./src/models/runner.ts";
export { initParams, type ParamSpec } from "./src/models/params.ts";
export { loadModelDir, saveModelDir } from "./src/io/hf_dir.ts";
export { readSafetensors, serializeSafetensors, writeSafetensors } from "./src/io/safetensors.ts";
export { parseJsonl, readJsonl, type Row } from "./src/data/rows.ts";
export { encodeRows, type Example, loadTokenizer } from "./src/data/tokenize.ts";
export { type Batch, makeBatch } from "./src/data/batch.ts";
export { AdamW, type AdamWOptions } from "./src/optim/adamw.ts";
export { createApp } from "./routes/app.ts";
