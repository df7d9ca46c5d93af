/**
 * @module Submit-time checks of a validated job request, per type, so a job that cannot run is a
 * 4xx naming the field before it is queued: the model and adapter job resolve, every row field
 * tokenizes (errors name `forget.3`, …) and has target tokens, and the cross-field rules hold
 * (fine-tune `data_indices` in range, unlearn `retain` where the method needs it, coreset `val`
 * for cld and `k` at most the rows). Also the step count the job's progress counts to.
 */
import type { Example } from "../data/example.ts";
import type { Row } from "../data/rows.ts";
import { indexProblem } from "../coreset/train_hooks.ts";
import { coresetProblem } from "../coreset/select.ts";
import { PosttrainError } from "../errors.ts";
import type { EvalJob, JobRequest } from "./spec.ts";
import type { ModelRegistry } from "./models.ts";

/** What a request resolved to at submit time. */
export interface Submission {
  /** The model dir the job runs on (an adapter job's weights replace the base). */
  modelDir: string;
  /** LoRA adapter dirs merged into the model. */
  adapters: string[];
  /** Units of progress: optimizer steps, eval batches, unlearning steps, coreset checkpoints. */
  steps: number;
}

/** What an `adapter` job id stands for: a LoRA adapter dir, or a model dir replacing the base. */
export type AdapterResolver = (
  jobId: string,
  model: string,
) => Promise<{ kind: "adapter" | "model"; dir: string }>;

const hasTargets = (ex: Example[]) => ex.some((e) => e.labels.some((l) => l !== -100));

function noTargets(field: string, what = "the rows have no target tokens"): PosttrainError {
  return new PosttrainError("invalid_row", `${field}: ${what}`, field);
}

/**
 * Check a validated request against its model and data; errors are {@link PosttrainError}s naming the field.
 *
 * @example
 * ```ts ignore
 * const { modelDir, adapters, steps } = await checkSubmission(req, registry, runner.resolveAdapter.bind(runner));
 * ```
 */
export async function checkSubmission(
  req: JobRequest,
  models: ModelRegistry,
  resolveAdapter: AdapterResolver,
): Promise<Submission> {
  let modelDir = await models.resolve(req.model);
  const adapters: string[] = [];
  if (req.type !== "finetune" && req.adapter) {
    const a = await resolveAdapter(req.adapter, req.model);
    if (a.kind === "model") modelDir = a.dir;
    else adapters.push(a.dir);
  }
  const encode = async (rows: Row[], field: string) => {
    const ex = await models.encode(modelDir, rows, req.truncate, field);
    if (!hasTargets(ex)) throw noTargets(field);
    return ex;
  };
  switch (req.type) {
    case "finetune": {
      const ex = await encode(req.data, "data");
      if (req.data_indices) {
        const p = indexProblem(req.data_indices, ex.length);
        if (p) {
          const path = `data_indices.${p.at}`;
          throw new PosttrainError("invalid_option", `${path}: ${p.message} of data`, path);
        }
        if (!hasTargets(req.data_indices.map((i) => ex[i]))) {
          throw noTargets("data_indices", "the selected rows have no target tokens");
        }
      }
      return { modelDir, adapters, steps: req.steps };
    }
    case "eval": {
      await encode(req.data, "data");
      return { modelDir, adapters, steps: Math.ceil(req.data.length / (req as EvalJob).batch_size) };
    }
    case "unlearn": {
      await encode(req.forget, "forget");
      if (req.retain) await encode(req.retain, "retain");
      else if (req.method !== "ga" || req.retain_loss !== undefined) {
        const why = req.method === "ga" ? `retain_loss ${req.retain_loss}` : `method ${req.method}`;
        throw new PosttrainError("invalid_request", `retain: required by ${why}`, "retain");
      }
      return { modelDir, adapters, steps: req.method === "kfade" ? req.kfade_steps : req.steps };
    }
    case "coreset": {
      const ex = await models.encode(modelDir, req.data, req.truncate, "data");
      if (req.val) await models.encode(modelDir, req.val, req.truncate, "val");
      const p = coresetProblem(req.method, await models.config(modelDir), ex.length, req.k, !!req.val);
      if (p) throw new PosttrainError("invalid_request", `${p.field}: ${p.message}`, p.field);
      return { modelDir, adapters, steps: req.method === "cld" ? req.epochs * req.evals_per_epoch : 1 };
    }
  }
}
