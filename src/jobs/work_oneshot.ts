/**
 * @module Jobs that run as one chunk: `unlearn` (the unlearning engines keep their optimizer and
 * curvature state inside one call, so a restarted job starts over) and `coreset` (one selection).
 * Progress still flows: unlearning steps with the forget loss, CLD loss checkpoints. Artifacts are
 * built in a temp sibling of the job's output dir and renamed into place, so a job leaves either
 * all of its files or none: unlearn → the unlearned HF model dir (+ `update.safetensors` for
 * kfade: θ_after − θ_before, as `unlearn --save-update` writes it); coreset → `selection.json`.
 */
import { join } from "../io/path.ts";
import { storage } from "../io/storage.ts";
import { saveModel } from "../models/load.ts";
import { paramSpecs } from "../models/model.ts";
import { unlearn, type UnlearnOptionsInput } from "../unlearn/unlearn.ts";
import { saveUpdate } from "../unlearn/update.ts";
import { CoresetOptionsSchema, selectCoreset } from "../coreset/select.ts";
import { rowSources, writeSelection } from "../coreset/train_hooks.ts";
import { loadModelWithAdapters } from "../lora/with_adapters.ts";
import { camelKeys, type CoresetJob, type UnlearnJob } from "./spec.ts";
import type { JobRecord } from "./store.ts";
import type { ChunkResult, OneShotWork, WorkContext } from "./work.ts";

/** Whether the job was stopped for good here: canceled, or its lease went to another instance. */
const stopped = (signal?: AbortSignal) =>
  signal?.aborted && (signal.reason === "cancel" || signal.reason === "lost");

/** A signal that aborts only when `signal` aborts with reason "cancel" or "lost" (not on a shutdown). */
function cancelOnly(signal: AbortSignal): AbortSignal {
  const c = new AbortController();
  const on = () => stopped(signal) && c.abort(signal.reason);
  if (signal.aborted) on();
  else signal.addEventListener("abort", on, { once: true });
  return c.signal;
}

/** Build the output dir through `fill(tmp)` and one rename (an older output dir is replaced). */
async function writeOutput(out: string, fill: (dir: string) => Promise<void>): Promise<void> {
  const tmp = `${out}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await fill(tmp);
    await storage().remove(out, { recursive: true }).catch(() => {});
    await storage().rename(tmp, out);
  } catch (e) {
    await storage().remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** Finite figures only (a run without retain rows has no retain loss). */
function finite(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => Number.isFinite(v)));
}

async function unlearnJob(ctx: WorkContext, job: JobRecord, w: OneShotWork, signal?: AbortSignal) {
  const s = w.stored, r = s.request as UnlearnJob;
  const m = await loadModelWithAdapters(s.modelDir, s.adapters);
  const forget = await ctx.models.encode(s.modelDir, r.forget, r.truncate, "forget");
  const retain = r.retain ? await ctx.models.encode(s.modelDir, r.retain, r.truncate, "retain") : [];
  const { type: _t, model: _m, adapter: _a, forget: _f, retain: _r, backend: _b, truncate: _tr, ...o } = r;
  const res = await unlearn(m.config, m.weights, forget, retain, camelKeys(o) as UnlearnOptionsInput, {
    backend: w.backend,
    onStep: (p) =>
      ctx.report({
        step: p.step,
        forget_loss: p.forgetLoss,
        ...(p.loss === undefined ? {} : { loss: p.loss }),
      }),
    // a cancel stops the run before its next step; a shutdown lets it finish
    signal: signal && cancelOnly(signal),
  }).catch((e) => {
    if (stopped(signal)) return undefined;
    throw e;
  });
  if (!res || stopped(signal)) return undefined;
  const shapes = new Map(paramSpecs(m.config).map((p) => [p.name, p.shape]));
  await writeOutput(ctx.files.outDir(job.id), async (dir) => {
    await saveModel(dir, m);
    if (r.method === "kfade") {
      await saveUpdate(join(dir, "update.safetensors"), res.update, shapes, {
        method: r.method,
        model: r.model,
      });
    }
  });
  return {
    result: finite({
      forget_loss_before: res.forgetLossBefore,
      forget_loss_after: res.forgetLossAfter,
      retain_loss_before: res.retainLossBefore,
      retain_loss_after: res.retainLossAfter,
      steps: res.steps,
      seconds: res.seconds,
    }),
    progress: { step: res.steps, forget_loss: res.forgetLossAfter },
  };
}

async function coresetJob(ctx: WorkContext, job: JobRecord, w: OneShotWork, signal?: AbortSignal) {
  const s = w.stored, r = s.request as CoresetJob;
  const m = await loadModelWithAdapters(s.modelDir, s.adapters);
  const data = await ctx.models.encode(s.modelDir, r.data, r.truncate, "data");
  const val = r.val ? await ctx.models.encode(s.modelDir, r.val, r.truncate, "val") : undefined;
  const { keep_sources: keepSources, ...rest } = r;
  const options = { ...CoresetOptionsSchema.parse(camelKeys(rest)), keepSources };
  const sel = await selectCoreset({
    method: r.method,
    config: m.config,
    weights: m.weights,
    data,
    sources: rowSources(r.data),
    val,
    valSources: r.val && rowSources(r.val),
    k: r.k,
    options,
    backend: w.backend,
    onProgress: (done, of) => {
      // CLD releases its sessions on the way out (cld.ts), so a throw here stops it cleanly
      if (signal?.aborted) throw new Error(`job ${job.id}: stopped (${signal.reason})`);
      ctx.report({ step: done, steps: of });
    },
  }).catch((e) => {
    if (signal?.aborted) return undefined;
    throw e;
  });
  if (!sel) return undefined;
  await writeOutput(ctx.files.outDir(job.id), async (dir) => {
    await storage().mkdir(dir);
    await writeSelection(join(dir, "selection.json"), sel, { method: r.method });
  });
  return { result: { k: sel.indices.length, rows: data.length }, progress: {} };
}

/**
 * Run an unlearn or coreset job to the end and return its result and artifacts; a cancel (or a
 * shutdown, for a coreset job) stops it with nothing written.
 *
 * @example
 * ```ts ignore
 * const { outcome } = await oneShotChunk(ctx, job, { kind: "coreset", stored, backend: "wasm" }, signal);
 * ```
 */
export async function oneShotChunk(
  ctx: WorkContext,
  job: JobRecord,
  w: OneShotWork,
  signal?: AbortSignal,
): Promise<ChunkResult> {
  const done = w.kind === "unlearn"
    ? await unlearnJob(ctx, job, w, signal)
    : await coresetJob(ctx, job, w, signal);
  if (!done) return { outcome: signal?.reason === "cancel" ? "canceled" : "paused" };
  return {
    outcome: "done",
    patch: {
      status: "succeeded",
      result: done.result,
      artifacts: await ctx.files.describe(job.id),
      progress: done.progress,
    },
  };
}
