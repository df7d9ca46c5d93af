/**
 * @module Submit-time checks of a validated job request, per type, so a job that cannot run is a
 * 4xx naming the field before it is queued (a 202 means the job can run), in two parts:
 * {@link resolveRefs} (the model and the adapter job resolve: cheap, needs the job store) and
 * {@link checkRows} (tokenizes, so an executor runs it off the event loop): every row field
 * tokenizes (errors name `forget.3`, …); every row a job trains, unlearns or scores on has target
 * tokens (errors name the row's field: `val.0.completion`; eval needs one row with targets); the
 * cross-field rules hold: fine-tune `data_indices` in range, LoRA / low-rank `targets` matching a
 * linear layer, `rank_budget` for sensitivity ranks, unlearn `retain` where the method needs it,
 * coreset `val` for cld and `k` at most the rows. Also the step count the job's progress counts to.
 */
import type { Example } from "../data/example.ts";
import { type Row, type RowKind, rowKind } from "../data/rows.ts";
import type { DecoderConfig } from "../models/decoder_config.ts";
import { paramSpecs } from "../models/model.ts";
import { isTarget, type LoraConfig } from "../lora/lora.ts";
import { defaultTargets } from "../lora/setup.ts";
import { lowRankTargets } from "../optim/lowrank.ts";
import { indexProblem } from "../coreset/train_hooks.ts";
import { coresetProblem } from "../coreset/select.ts";
import { PosttrainError } from "../errors.ts";
import type { EvalJob, FinetuneJob, JobRequest } from "./spec.ts";
import type { ModelRegistry } from "./models.ts";

/** What an `adapter` job id stands for: a LoRA adapter dir, or a model dir replacing the base. */
export type AdapterResolver = (
  jobId: string,
  model: string,
) => Promise<{ kind: "adapter" | "model"; dir: string }>;

const targeted = (e: Example) => e.labels.some((l) => l !== -100);

function noTargets(field: string): PosttrainError {
  return new PosttrainError("invalid_row", `${field}: the rows have no target tokens`, field);
}

/** The field of a row whose tokens are the targets (`completion`, `answer`, `output`, …). */
const TARGET_FIELD: Record<RowKind, string> = {
  prompt: "completion",
  question: "answer",
  instruction: "output",
  messages: "messages",
  conversations: "conversations",
  text: "text",
  input_ids: "labels",
};

/** 422 naming the first of `rows[i]` (i in `at`, default all) with no target tokens. */
function everyTargeted(rows: Row[], ex: Example[], field: string, at?: number[]): void {
  const i = (at ?? ex.map((_, k) => k)).find((k) => !targeted(ex[k]));
  if (i === undefined) return;
  const kind = rowKind(rows[i] as Record<string, unknown>)!;
  const f = kind === "input_ids" && !("labels" in rows[i]) ? "input_ids" : TARGET_FIELD[kind];
  const path = `${field}.${i}.${f}`;
  const why = kind === "text"
    ? "the row has no target tokens (a text needs at least two tokens)"
    : kind === "input_ids"
    ? "the row has no target tokens (it needs at least two tokens and a label other than -100)"
    : kind === "messages" || kind === "conversations"
    ? "the row has no target tokens (no assistant turn, or cut off by truncate)"
    : `the row has no target tokens (the ${f} is empty, or cut off by truncate)`;
  throw new PosttrainError("invalid_row", `${path}: ${why}`, path);
}

/** The 2-D weights' modules of a model (`model.layers.0.self_attn.q_proj`, …). */
function linearModules(config: DecoderConfig): string[] {
  return paramSpecs(config).filter((s) => s.shape.length === 2 && s.name.endsWith(".weight"))
    .map((s) => s.name.slice(0, -".weight".length));
}

/** What a fine-tune's method needs from the model: target layers, a rank budget that fits them. */
function methodProblem(req: FinetuneJob, config: DecoderConfig): PosttrainError | undefined {
  const targets = typeof req.targets === "string"
    ? req.targets.split(",").map((t) => t.trim()).filter(Boolean)
    : req.targets;
  const bad = (field: string, message: string) =>
    new PosttrainError("invalid_option", `${field}: ${message}`, field);
  if (req.method === "lora") {
    const t = targets?.length ? targets : defaultTargets(config);
    const n = linearModules(config).filter((m) => isTarget({ targets: t } as LoraConfig, m)).length;
    if (n === 0) return bad("targets", `${t.join(",")} match no linear layer of this ${config.arch} model`);
    if (req.rank_allocation === "sensitivity") {
      if (req.rank_budget === undefined) return bad("rank_budget", "required by rank_allocation sensitivity");
      if (req.rank_budget < n) {
        return bad(
          "rank_budget",
          `${req.rank_budget} is less than the ${n} target matrices (each gets rank ≥ 1)`,
        );
      }
    }
  } else if (req.method !== "full" && lowRankTargets(config, targets).length === 0) {
    return bad("targets", `${targets?.join(",")} match no linear layer of this ${config.arch} model`);
  }
  return undefined;
}

/**
 * The model dir and adapters a request runs on, and the jobs whose output they are (`uses`); errors are
 * {@link PosttrainError}s naming the field.
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
): Promise<{ modelDir: string; adapters: string[]; uses: string[] }> {
  let modelDir = await models.resolve(req.model);
  const adapters: string[] = [], uses: string[] = [];
  if (req.type !== "finetune" && req.adapter) {
    const a = await resolveAdapter(req.adapter, req.model);
    if (a.kind === "model") modelDir = a.dir;
    else adapters.push(a.dir);
    uses.push(req.adapter);
  }
  return { modelDir, adapters, uses };
}

/**
 * Check a request's rows and options against its model (`modelDir` from {@link resolveRefs});
 * returns the step count; errors are {@link PosttrainError}s naming the field.
 *
 * @example
 * ```ts ignore
 * const steps = await checkRows(req, registry, modelDir);
 * ```
 */
export async function checkRows(req: JobRequest, models: ModelRegistry, modelDir: string): Promise<number> {
  const encode = (rows: Row[], field: string) => models.encode(modelDir, rows, req.truncate, field);
  const everyRow = async (rows: Row[], field: string) =>
    everyTargeted(rows, await encode(rows, field), field);
  switch (req.type) {
    case "finetune": {
      const ex = await encode(req.data, "data");
      if (req.data_indices) {
        const p = indexProblem(req.data_indices, ex.length);
        if (p) {
          const path = `data_indices.${p.at}`;
          throw new PosttrainError("invalid_option", `${path}: ${p.message} of data`, path);
        }
      }
      everyTargeted(req.data, ex, "data", req.data_indices);
      const p = methodProblem(req, await models.config(modelDir));
      if (p) throw p;
      return req.steps;
    }
    case "eval": {
      if (!(await encode(req.data, "data")).some(targeted)) throw noTargets("data");
      return Math.ceil(req.data.length / (req as EvalJob).batch_size);
    }
    case "unlearn": {
      await everyRow(req.forget, "forget");
      if (req.retain) await everyRow(req.retain, "retain");
      else if (req.method !== "ga" || req.retain_loss !== undefined) {
        const why = req.method === "ga" ? `retain_loss ${req.retain_loss}` : `method ${req.method}`;
        throw new PosttrainError("invalid_request", `retain: required by ${why}`, "retain");
      }
      return req.method === "kfade" ? req.kfade_steps : req.steps;
    }
    case "coreset": {
      const ex = await encode(req.data, "data");
      everyTargeted(req.data, ex, "data");
      if (req.val) await everyRow(req.val, "val");
      const p = coresetProblem(req.method, await models.config(modelDir), ex.length, req.k, !!req.val);
      if (p) throw new PosttrainError("invalid_request", `${p.field}: ${p.message}`, p.field);
      return req.method === "cld" ? req.epochs * req.evals_per_epoch : 1;
    }
  }
}
