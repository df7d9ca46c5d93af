/**
 * @module What one chunk of a job does, per job type. A fine-tune runs at most `chunkSteps`
 * optimizer steps, then writes a checkpoint into the slot the record does *not* name (two slots
 * `a`/`b`, so the recorded one is always complete even if the process dies mid-write) and asks for
 * it to be recorded; the last chunk writes the artifacts (atomically) and asks for the job to be
 * marked succeeded. An eval runs `chunkSteps` batches and keeps its partial sums in the record.
 * Loading (`loadWork`) rebuilds the state from the stored request and the recorded checkpoint, so
 * any process can continue. Unlearn and coreset jobs run as one chunk (`work_oneshot.ts`).
 *
 * Chunks never touch the job store: they report progress through {@link WorkContext.report} and
 * return the change to the record ({@link ChunkResult}), so they can run on another thread (see
 * `executor.ts`). Between steps they yield a macrotask, so the isolate's messages (a cancel), timers
 * and I/O get a turn.
 */
import { loadCheckpoint, saveCheckpoint } from "../train/checkpoint.ts";
import type { StepInfo } from "../train/trainer.ts";
import { makeBatch } from "../data/batch.ts";
import { ModelRunner } from "../models/runner.ts";
import type { LoadedModel } from "../models/load.ts";
import type { Example } from "../data/example.ts";
import type { Backend } from "../runtime/backend.ts";
import { peakRssMb } from "../util/rss.ts";
import { type PreparedFinetune, prepareFinetune, saveTrained } from "../train/prepare.ts";
import { loadModelWithAdapters } from "../lora/with_adapters.ts";
import { type EvalJob, type FinetuneJob, finetuneOptionsOf, type JobRequest } from "./spec.ts";
import type { ArtifactInfo, JobProgress, JobRecord } from "./store.ts";
import type { ArtifactStore } from "./artifacts.ts";
import type { ModelRegistry } from "./models.ts";

/** What a job's request file holds: the request plus what it resolved to at submit time. */
export interface StoredRequest {
  request: JobRequest;
  modelDir: string;
  /** LoRA adapter dirs merged into the model (a lora fine-tune job given as `adapter`). */
  adapters: string[];
}

/** A one-shot job's state: its stored request and backend (nothing is held between chunks). */
export interface OneShotWork {
  kind: "unlearn" | "coreset";
  stored: StoredRequest;
  backend: Backend;
}

/** A job's in-memory state between chunks. */
export type Work =
  | {
    kind: "finetune";
    p: PreparedFinetune;
    slot?: string;
    last?: StepInfo;
  }
  | { kind: "eval"; model: LoadedModel; examples: Example[]; runner: ModelRunner; batchSize: number }
  | OneShotWork;

/** What the chunk functions need: files, models, the chunk size and a progress sink. */
export interface WorkContext {
  files: ArtifactStore;
  models: ModelRegistry;
  chunkSteps: number;
  /** Record progress (merged into the record's progress; the caller coalesces the writes). */
  report(p: Partial<JobProgress>): void;
}

/** How a chunk ended: more to do, finished, stopped by a cancel, or paused by a shutdown. */
export type ChunkOutcome = "more" | "done" | "canceled" | "paused";

/** The change a chunk asks for in its job's record (merged into `progress` and `state`). */
export interface RecordPatch {
  status?: "succeeded";
  result?: Record<string, number>;
  artifacts?: ArtifactInfo[];
  progress?: Partial<JobProgress>;
  state?: Record<string, number | string>;
}

/** What a chunk returns. */
export interface ChunkResult {
  outcome: ChunkOutcome;
  patch?: RecordPatch;
}

/** A macrotask boundary: lets messages, timers and I/O run between steps. */
export const macrotask = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

/** Rebuild a job's state from its stored request and recorded checkpoint. */
export async function loadWork(ctx: WorkContext, job: JobRecord, backend: Backend): Promise<Work> {
  const s = await ctx.files.readRequest<StoredRequest>(job.id);
  if (s.request.type === "finetune") {
    const r = s.request as FinetuneJob;
    const make = () =>
      prepareFinetune({
        modelDir: s.modelDir,
        rows: r.data,
        method: r.method,
        truncate: r.truncate,
        backend: r.backend ?? backend,
        options: finetuneOptionsOf(r),
      });
    let p = await make();
    const slot = job.state?.slot as string | undefined;
    if (slot) {
      try {
        await loadCheckpoint(ctx.files.checkpointDir(job.id, slot), p.trainer);
        // a holder that lost its lease may have written this slot late: trust only the recorded step
        const want = job.progress.checkpoint_step;
        if (want !== undefined && p.trainer.state.step !== want) {
          throw new Error(`it holds step ${p.trainer.state.step}, the record says ${want}`);
        }
        return { kind: "finetune", p, slot };
      } catch (e) {
        console.error(
          `job ${job.id}: checkpoint ${slot} unreadable (${(e as Error).message}); starting over`,
        );
        await p.trainer.release();
        p = await make();
      }
    }
    return { kind: "finetune", p };
  }
  if (s.request.type === "unlearn" || s.request.type === "coreset") {
    return { kind: s.request.type, stored: s, backend: s.request.backend ?? backend };
  }
  const r = s.request as EvalJob;
  const model = await loadModelWithAdapters(s.modelDir, s.adapters);
  const examples = await ctx.models.encode(s.modelDir, r.data, r.truncate);
  const runner = new ModelRunner(model.config, r.backend ?? backend);
  return { kind: "eval", model, examples, runner, batchSize: r.batch_size };
}

/** Free a job's sessions. */
export async function releaseWork(w: Work): Promise<void> {
  if (w.kind === "finetune") await w.p.trainer.release();
  else if (w.kind === "eval") await w.runner.release();
  // one-shot jobs hold nothing between chunks
}

/** One chunk of a fine-tune (throws on a non-finite loss, before any weight is written). */
export async function finetuneChunk(
  ctx: WorkContext,
  job: JobRecord,
  w: Work & { kind: "finetune" },
  signal?: AbortSignal,
): Promise<ChunkResult> {
  const t = w.p.trainer, steps = t.opts.steps, id = job.id;
  if (t.state.step < steps) {
    const until = Math.min(steps, t.state.step + ctx.chunkSteps);
    while (t.state.step < until && !signal?.aborted) {
      const s = w.last = await t.step();
      if (s.step % t.opts.logEvery === 0 || s.step === until) {
        ctx.report({
          step: s.step,
          loss: s.loss,
          lr: s.lr,
          grad_norm: s.gradNorm,
          tokens_per_s: Math.round(s.tokensPerS),
          eta_s: Math.round(s.etaS),
        });
      }
      await macrotask();
    }
    if (signal?.aborted && signal.reason === "cancel") return { outcome: "canceled" };
    // another instance holds the job now: its checkpoint slots are not ours to write
    if (signal?.aborted && signal.reason === "lost") return { outcome: "paused" };
    if (t.state.step < steps || signal?.aborted) {
      const slot = w.slot === "a" ? "b" : "a";
      await saveCheckpoint(ctx.files.checkpointDir(id, slot), t);
      w.slot = slot;
      return {
        outcome: signal?.aborted ? "paused" : "more",
        patch: { state: { slot }, progress: { checkpoint_step: t.state.step } },
      };
    }
  }
  await saveTrained(ctx.files.outDir(id), w.p, job.model);
  const losses = t.state.losses;
  const result = {
    loss_start: losses[0],
    loss_end: losses.at(-1)!,
    steps: t.state.step,
    tokens_per_s: Math.round(w.last?.tokensPerS ?? job.progress.tokens_per_s ?? 0),
    peak_rss_mb: Math.round(peakRssMb()),
    optimizer_state_bytes: t.optimizer.stateBytes,
  };
  return {
    outcome: "done",
    patch: {
      status: "succeeded",
      result,
      artifacts: await ctx.files.describe(id),
      progress: { step: t.state.step },
    },
  };
}

/** One chunk of an eval: `chunkSteps` batches, partial sums kept in the record. */
export async function evalChunk(
  ctx: WorkContext,
  job: JobRecord,
  w: Work & { kind: "eval" },
  signal?: AbortSignal,
): Promise<ChunkResult> {
  const { examples, batchSize, runner, model } = w;
  let next = Number(job.state?.next ?? 0), sum = Number(job.state?.sum ?? 0);
  let tokens = Number(job.state?.tokens ?? 0);
  for (let k = 0; k < ctx.chunkSteps && next < examples.length && !signal?.aborted; k++) {
    const b = makeBatch(examples.slice(next, next + batchSize));
    if (b.targetTokens > 0) {
      sum += (await runner.lossSum(model.weights, b)).lossSum;
      tokens += b.targetTokens;
    }
    next += batchSize;
    ctx.report({
      step: Math.ceil(Math.min(next, examples.length) / batchSize),
      ...(tokens ? { loss: sum / tokens } : {}),
    });
    await macrotask();
  }
  if (signal?.aborted && signal.reason === "cancel") return { outcome: "canceled" };
  const step = Math.ceil(Math.min(next, examples.length) / batchSize);
  const done = next >= examples.length;
  const loss = sum / tokens;
  const patch: RecordPatch = {
    state: { next, sum, tokens },
    progress: { step, ...(tokens ? { loss } : {}) },
  };
  if (done) {
    return {
      outcome: "done",
      patch: { ...patch, status: "succeeded", result: { loss, ppl: Math.exp(loss), tokens } },
    };
  }
  return { outcome: signal?.aborted ? "paused" : "more", patch };
}
