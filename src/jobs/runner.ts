/**
 * @module The job runner: a FIFO queue with a concurrency limit, and jobs that advance in
 * resumable chunks (see `work.ts`: at most `chunkSteps` optimizer steps, then a checkpoint the
 * record names only once it is complete). A restarted server resumes every `running` job
 * from its recorded checkpoint (exact trajectory, see `train/checkpoint.ts`; unlearn and coreset
 * jobs run as one chunk and start over); an edge deployment
 * without a long-lived process calls {@link JobRunner.advance} once per invocation instead. Cancel
 * stops at the next step boundary. A non-finite loss fails the job naming the step; nothing is
 * written from it. The work itself (chunks, the submit-time row checks, generation) runs on an
 * {@link Executor}: in this isolate by default, on Deno Workers for the HTTP service; the runner
 * keeps the records (progress writes are coalesced, so a slow store never queues them up).
 */
import { type Backend, DEFAULT_BACKEND } from "../runtime/backend.ts";
import { PosttrainError } from "../errors.ts";
import { parseJobRequest } from "./spec.ts";
import { resolveRefs } from "./submit.ts";
import { type JobProgress, type JobRecord, type JobStore, newJobId, TERMINAL } from "./store.ts";
import type { ArtifactStore } from "./artifacts.ts";
import type { ModelRegistry } from "./models.ts";
import type { RecordPatch } from "./work.ts";
import { type Executor, type GenerateRequest, InlineExecutor } from "./executor.ts";

/** Options of {@link JobRunner}. */
export interface RunnerOptions {
  store: JobStore;
  files: ArtifactStore;
  models: ModelRegistry;
  /** Jobs running at once (default 1); the rest wait in a FIFO queue. */
  concurrency?: number;
  /** Optimizer steps (eval: batches) per chunk (default 20). */
  chunkSteps?: number;
  /** Backend of jobs that name none (default wasm). */
  defaultBackend?: Backend;
  /** Where the work runs (default: an {@link InlineExecutor} in this isolate). */
  executor?: Executor;
}

const now = () => new Date().toISOString();
const tick = () => new Promise((r) => setTimeout(r, 0));

/** Progress merged and written one write at a time, so a slow store never queues them up. */
function progressWriter(store: JobStore, id: string) {
  let pending: Partial<JobProgress> | undefined, writing: Promise<void> | undefined;
  const drain = async () => {
    while (pending) {
      const p = pending;
      pending = undefined;
      await store.update(
        id,
        (j) => (TERMINAL.includes(j.status) ? undefined : { ...j, progress: { ...j.progress, ...p } }),
      );
    }
  };
  return {
    push(p: Partial<JobProgress>): void {
      pending = { ...pending, ...p };
      writing ??= drain().catch((e) => console.error(`job ${id}: progress: ${(e as Error).message}`))
        .finally(() => (writing = undefined));
    },
    async flush(): Promise<void> {
      while (writing) await writing;
    },
  };
}

/** A record with a chunk's patch applied. */
function applyPatch(j: JobRecord, p: RecordPatch): JobRecord {
  return {
    ...j,
    ...(p.status ? { status: p.status, finished_at: now() } : {}),
    ...(p.result ? { result: p.result } : {}),
    ...(p.artifacts ? { artifacts: p.artifacts } : {}),
    ...(p.state ? { state: { ...j.state, ...p.state } } : {}),
    progress: { ...j.progress, ...p.progress },
  };
}

/**
 * Queue + chunked execution of jobs over a store and an artifact dir.
 *
 * @example
 * ```ts ignore
 * const runner = new JobRunner({ store: new MemoryJobStore(), files: new ArtifactStore("./data"), models });
 * await runner.start();
 * const job = await runner.submit({ type: "eval", model: "default", data: [{ text: "hi" }], batch_size: 8, truncate: false });
 * ```
 */
export class JobRunner {
  readonly store: JobStore;
  readonly files: ArtifactStore;
  readonly models: ModelRegistry;
  readonly concurrency: number;
  readonly chunkSteps: number;
  readonly defaultBackend: Backend;
  readonly executor: Executor;
  #queue: string[] = [];
  #active = new Map<string, { ac: AbortController; done: Promise<void> }>();
  /** Jobs whose state the executor keeps warm. */
  #warm = new Set<string>();
  #started = false;
  #stopped = false;
  #idle: (() => void)[] = [];

  constructor(o: RunnerOptions) {
    this.store = o.store;
    this.files = o.files;
    this.models = o.models;
    this.concurrency = Math.max(1, o.concurrency ?? 1);
    this.chunkSteps = Math.max(1, o.chunkSteps ?? 20);
    this.defaultBackend = o.defaultBackend ?? DEFAULT_BACKEND;
    this.executor = o.executor ?? new InlineExecutor({
      files: this.files,
      models: this.models,
      chunkSteps: this.chunkSteps,
      defaultBackend: this.defaultBackend,
    });
  }

  /**
   * Validate (see `JobRequestSchema`: the HTTP body), store and enqueue a job; errors are
   * {@link PosttrainError}s naming the field.
   */
  async submit(body: unknown): Promise<JobRecord> {
    const req = parseJobRequest(body);
    const refs = await resolveRefs(req, this.models, (j, m) => this.resolveAdapter(j, m));
    const id = newJobId();
    const steps = await this.executor.accept(id, req, refs);
    const t = now();
    const job: JobRecord = {
      id,
      type: req.type,
      status: "queued",
      model: req.model,
      ...("method" in req ? { method: req.method } : {}),
      created_at: t,
      updated_at: t,
      progress: { step: 0, steps },
      version: 0,
    };
    await this.store.create(job);
    this.#enqueue(id);
    return job;
  }

  /**
   * What an `adapter` job id stands for: a LoRA job's adapter dir, or the model dir of a full-weight
   * fine-tune or an unlearn job. It must be a succeeded fine-tune or unlearn job of `model`.
   */
  async resolveAdapter(jobId: string, model: string): Promise<{ kind: "adapter" | "model"; dir: string }> {
    const j = await this.store.get(jobId);
    if (!j) throw new PosttrainError("job_not_found", `adapter: no job ${jobId}`, "adapter");
    if ((j.type !== "finetune" && j.type !== "unlearn") || j.status !== "succeeded") {
      throw new PosttrainError(
        "invalid_adapter",
        `adapter: job ${jobId} is a ${j.status} ${j.type} job, not a succeeded fine-tune or unlearn job`,
        "adapter",
      );
    }
    if (j.model !== model) {
      throw new PosttrainError(
        "invalid_adapter",
        `adapter: job ${jobId} fine-tuned ${j.model}, not ${model}`,
        "adapter",
      );
    }
    return { kind: j.method === "lora" ? "adapter" : "model", dir: this.files.outDir(jobId) };
  }

  /** Continue a prompt (`POST /v1/generate`) on the executor; the model and adapter resolve here. */
  async generate(r: GenerateRequest): Promise<{ text: string }> {
    const refs = await resolveRefs(
      { type: "generate", ...r },
      this.models,
      (j, m) => this.resolveAdapter(j, m),
    );
    return await this.executor.generate(r, refs, r.backend ?? this.defaultBackend);
  }

  /** Cancel a job: a queued one at once, a running one at its next step. Returns the record. */
  async cancel(id: string): Promise<JobRecord | undefined> {
    const job = await this.store.get(id);
    if (!job || TERMINAL.includes(job.status)) return job;
    const i = this.#queue.indexOf(id);
    if (i >= 0) this.#queue.splice(i, 1);
    const active = this.#active.get(id);
    if (!active) return await this.#finishCanceled(id);
    await this.store.update(
      id,
      (j) => (TERMINAL.includes(j.status) ? undefined : { ...j, cancel_requested: true }),
    );
    active.ac.abort("cancel");
    await Promise.race([active.done, new Promise((r) => setTimeout(r, 60_000))]);
    return await this.store.get(id);
  }

  /** Pick up queued and interrupted jobs from the store and start working. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const pending = await this.store.list({ status: ["running", "queued"] });
    for (const j of pending.reverse()) {
      if (j.status === "running") {
        // progress past the last checkpoint is redone: show where the job really stands
        await this.store.update(j.id, (r) => ({
          ...r,
          resumes: (r.resumes ?? 0) + 1,
          progress: {
            ...r.progress,
            step: r.type === "finetune"
              ? r.progress.checkpoint_step ?? 0
              : r.type === "eval"
              ? r.progress.step
              : 0, // unlearn and coreset start over
          },
        }));
      }
      if (!this.#queue.includes(j.id)) this.#queue.push(j.id);
    }
    this.#pump();
  }

  /**
   * Stop working: running jobs save a checkpoint at their next step and stay `running`; the
   * executor is closed.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const { ac } of this.#active.values()) ac.abort("shutdown");
    await Promise.all([...this.#active.values()].map((a) => a.done));
    await this.release();
    await this.executor.close();
  }

  /** Free the sessions of jobs kept warm between chunks (their checkpoints stay). */
  async release(): Promise<void> {
    for (const id of [...this.#warm]) await this.#dispose(id, false);
  }

  /** Resolves when no job is queued or running here. */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#active.size === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  /**
   * Run one chunk of a job (claiming it when queued). Returns true when more chunks remain.
   * Edge deployments call this from a queue handler or a cron instead of {@link start}.
   */
  async advance(id: string, signal?: AbortSignal): Promise<boolean> {
    let job = await this.store.get(id);
    if (!job || TERMINAL.includes(job.status)) return false;
    if (job.cancel_requested) return (await this.#finishCanceled(id), false);
    if (job.status === "queued") {
      job = await this.store.update(
        id,
        (j) => (j.status === "queued" ? { ...j, status: "running", started_at: now() } : undefined),
      );
      if (!job || job.status !== "running") return false;
    }
    const progress = progressWriter(this.store, id);
    try {
      this.#warm.add(id);
      const { outcome, patch } = await this.executor.chunk(job, {
        signal,
        onProgress: (p) => progress.push(p),
      });
      await progress.flush();
      const rec = patch
        ? await this.store.update(id, (j) => (TERMINAL.includes(j.status) ? undefined : applyPatch(j, patch)))
        : undefined;
      if (outcome === "canceled" || (outcome !== "done" && rec?.cancel_requested)) {
        await this.#finishCanceled(id);
        return false;
      }
      if (outcome === "done") await this.#dispose(id);
      return outcome === "more";
    } catch (e) {
      await progress.flush();
      await this.#fail(id, e);
      return false;
    }
  }

  #enqueue(id: string): void {
    this.#queue.push(id);
    this.#pump();
  }

  #pump(): void {
    if (!this.#started || this.#stopped) return;
    while (this.#active.size < this.concurrency && this.#queue.length) {
      const id = this.#queue.shift()!;
      const ac = new AbortController();
      const done = this.#drive(id, ac.signal).finally(() => {
        this.#active.delete(id);
        this.#pump();
        if (this.#queue.length === 0 && this.#active.size === 0) this.#idle.splice(0).forEach((r) => r());
      });
      this.#active.set(id, { ac, done });
    }
  }

  async #drive(id: string, signal: AbortSignal): Promise<void> {
    try {
      while (!signal.aborted && await this.advance(id, signal)) await tick();
      // a cancel that lands between two chunks ends the loop before any chunk sees it
      if (signal.aborted && signal.reason === "cancel") {
        const j = await this.store.get(id);
        if (j && !TERMINAL.includes(j.status)) await this.#finishCanceled(id);
      }
    } catch (e) {
      console.error(`job ${id}: ${(e as Error).stack ?? e}`);
    }
  }

  async #fail(id: string, e: unknown): Promise<void> {
    const msg = (e as Error).message ?? String(e);
    const m = msg.match(/^(?:unlearn )?step (\d+): .*not finite/);
    const error = m
      ? { code: "non_finite_loss", message: msg, step: Number(m[1]) }
      : { code: e instanceof PosttrainError ? e.code : "job_failed", message: msg };
    await this.store.update(
      id,
      (
        j,
      ) => (TERMINAL.includes(j.status) ? undefined : { ...j, status: "failed", finished_at: now(), error }),
    );
    await this.#dispose(id);
    await this.files.removeOutput(id);
  }

  async #finishCanceled(id: string): Promise<JobRecord | undefined> {
    const rec = await this.store.update(
      id,
      (j) =>
        TERMINAL.includes(j.status)
          ? undefined
          : { ...j, status: "canceled", finished_at: now(), cancel_requested: true },
    );
    await this.#dispose(id);
    await this.files.removeOutput(id);
    return rec;
  }

  /** Free a job's sessions; `clean` also drops its checkpoints (the job is over). */
  async #dispose(id: string, clean = true): Promise<void> {
    if (this.#warm.delete(id)) {
      await this.executor.release(id).catch((e) =>
        console.error(`job ${id}: release: ${(e as Error).message}`)
      );
    }
    if (clean) await this.files.removeCheckpoints(id);
  }
}
