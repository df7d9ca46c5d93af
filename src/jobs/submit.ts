/**
 * @module Submit-time checks of a validated job request, per type, so a job that cannot run is a
 * 4xx naming the field before it is queued, in two parts: {@link resolveRefs} (the model and the
 * adapter job resolve: cheap, needs the job store) and {@link checkRows} (every row field
 * tokenizes, errors naming `forget.3`, …, and has target tokens; the cross-field rules hold:
 * fine-tune `data_indices` in range, unlearn `retain` where the method needs it, coreset `val` for
 * cld and `k` at most the rows; tokenizes, so an executor runs it off the event loop). Also the
 * step count the job's progress counts to.
 */
import type { Example } from "../data/tokenize.ts";
import type { Row } from "../data/rows.ts";
import { indexProblem } from "../coreset/train_hooks.ts";
import { coresetProblem } from "../coreset/select.ts";
import { ApiError } from "./errors.ts";
import type { EvalJob, JobRequest } from "./spec.ts";
import type { ModelRegistry } from "./models.ts";

/** What an `adapter` job id stands for: a LoRA adapter dir, or a model dir replacing the base. */
export type AdapterResolver = (
  jobId: string,
  model: string,
) => Promise<{ kind: "adapter" | "model"; dir: string }>;

const hasTargets = (ex: Example[]) => ex.some((e) => e.labels.some((l) => l !== -100));

function noTargets(field: string, what = "the rows have no target tokens"): ApiError {
  return new ApiError(422, "invalid_row", `${field}: ${what}`, field);
}

/**
 * The model dir and adapters a request runs on; errors are {@link ApiError}s naming the field.
 *
 * @example
 * ```ts ignore
 * const { modelDir, adapters } = await resolveRefs(req, registry, runner.resolveAdapter.bind(runner));
 * ```
 */
export async function resolveRefs(
  req: { type: string; model: string; adapter?: string },
  models: ModelRegistry,
  resolveAdapter: AdapterResolver,
): Promise<{ modelDir: string; adapters: string[] }> {
  let modelDir = await models.resolve(req.model);
  const adapters: string[] = [];
  if (req.type !== "finetune" && req.adapter) {
    const a = await resolveAdapter(req.adapter, req.model);
    if (a.kind === "model") modelDir = a.dir;
    else adapters.push(a.dir);
  }
  return { modelDir, adapters };
}

/**
 * Check a request's rows and options against its model (`modelDir` from {@link resolveRefs});
 * returns the step count; errors are {@link ApiError}s naming the field.
 *
 * @example
 * ```ts ignore
 * const steps = await checkRows(req, registry, modelDir);
 * ```
 */
export async function checkRows(req: JobRequest, models: ModelRegistry, modelDir: string): Promise<number> {
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
          throw new ApiError(422, "invalid_option", `${path}: ${p.message} of data`, path);
        }
        if (!hasTargets(req.data_indices.map((i) => ex[i]))) {
          throw noTargets("data_indices", "the selected rows have no target tokens");
        }
      }
      return req.steps;
    }
    case "eval": {
      await encode(req.data, "data");
      return Math.ceil(req.data.length / (req as EvalJob).batch_size);
    }
    case "unlearn": {
      await encode(req.forget, "forget");
      if (req.retain) await encode(req.retain, "retain");
      else if (req.method !== "ga" || req.retain_loss !== undefined) {
        const why = req.method === "ga" ? `retain_loss ${req.retain_loss}` : `method ${req.method}`;
        throw new ApiError(422, "invalid_request", `retain: required by ${why}`, "retain");
      }
      return req.method === "kfade" ? req.kfade_steps : req.steps;
    }
    case "coreset": {
      const ex = await models.encode(modelDir, req.data, req.truncate, "data");
      if (req.val) await models.encode(modelDir, req.val, req.truncate, "val");
      const p = coresetProblem(req.method, await models.config(modelDir), ex.length, req.k, !!req.val);
      if (p) throw new ApiError(422, "invalid_request", `${p.field}: ${p.message}`, p.field);
      return req.method === "cld" ? req.epochs * req.evals_per_epoch : 1;
    }
  }
}
