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
 * Several runners (server processes, isolates) may share one store: each job is worked on under a
 * lease (`lease.ts`) renewed at every step, chunk and heartbeat; a runner with `pollMs` looks for
 * queued jobs and expired leases in the store, so the jobs of an instance that died are taken over
 * from their last checkpoint. (Past 400 lines: the queue, the leases, cancel and shutdown are one state
 * machine; the record writes and the retention sweep live in `record_writes.ts` and `retention.ts`.)
 */
import { type Backend, DEFAULT_BACKEND } from "../runtime/backend.ts";
import { PosttrainError } from "../errors.ts";
import { parseJobRequest } from "./spec.ts";
import { resolveRefs } from "./submit.ts";
import { type JobRecord, type JobStore, newJobId, TERMINAL } from "./store.ts";
import {
  claimJob,
  DEFAULT_LEASE_MS,
  heldByOther,
  holds,
  newInstanceId,
  releaseJob,
  writeHeld,
} from "./lease.ts";
import type { ArtifactStore } from "./artifacts.ts";
import type { ModelRegistry } from "./models.ts";
import { applyPatch, progressWriter } from "./record_writes.ts";
import { removeFinished, sweepFinished } from "./retention.ts";
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
  /** This instance's name in leases (default: a new random one). */
  instance?: string;
  /** Lease length in ms (default 15,000): a holder silent this long loses its jobs. */
  leaseMs?: number;
  /**
   * Look for queued jobs and expired leases in the store every `pollMs` (default 0: never; set it when
   * other instances share the store).
   */
  pollMs?: number;
  /** Whether a lease holder is known to be gone (its jobs are taken before the lease expires). */
  gone?: (holder: string) => Promise<boolean>;
  /** Called before this instance starts on a job (e.g. to sweep the temp files a dead holder left). */
  onTake?: (id: string) => Promise<unknown>;
  /** The backends a request may name (default: all); another one is refused naming the field. */
  backends?: readonly Backend[];
  /** Finished jobs older than this (ms since they ended) are removed, record and files (default: kept). */
  retentionMs?: number;
  /** Log each job's end with this instance's name to stderr (the servers' logs; default false). */
  logEnds?: boolean;
}

const now = () => new Date().toISOString();
const tick = () => new Promise((r) => setTimeout(r, 0));

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
  /** This instance's name in leases. */
  readonly instance: string;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly #gone?: (holder: string) => Promise<boolean>;
  readonly #onTake?: (id: string) => Promise<unknown>;
  /** The backends a request may name (undefined: all). */
  readonly backends?: readonly Backend[];
  readonly retentionMs?: number;
  readonly #logEnds: boolean;
  #retention?: ReturnType<typeof setInterval>;
  #poll?: ReturnType<typeof setInterval>;
  #polling = false;
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
    this.instance = o.instance ?? newInstanceId();
    this.leaseMs = Math.max(100, o.leaseMs ?? DEFAULT_LEASE_MS);
    this.pollMs = Math.max(0, o.pollMs ?? 0);
    this.#gone = o.gone;
    this.#onTake = o.onTake;
    this.backends = o.backends;
    this.retentionMs = o.retentionMs;
    this.#logEnds = o.logEnds ?? false;
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
    if ("backend" in req) this.checkBackend(req.backend as Backend | undefined);
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
      ...(refs.uses.length ? { uses: refs.uses } : {}),
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

  /** Throw (naming the field `backend`) when a request names a backend the operator did not allow. */
  checkBackend(backend: Backend | undefined): void {
    if (backend === undefined || !this.backends || this.backends.includes(backend)) return;
    throw new PosttrainError(
      "backend_not_allowed",
      `backend: ${backend} is not allowed on this server (allowed: ${
        this.backends.join(", ")
      }; POSTTRAIN_BACKENDS)`,
      "backend",
    );
  }

  /**
   * Remove a finished job: its record and all its files. Returns the record as it was, undefined when
   * there is none; throws (409 over HTTP) when the job has not ended.
   */
  remove(id: string): Promise<JobRecord | undefined> {
    return removeFinished(this.store, this.files, id);
  }

  /** Remove the finished jobs that ended more than `retentionMs` ago; returns their ids. */
  async sweepRetention(now: number = Date.now()): Promise<string[]> {
    if (this.retentionMs === undefined) return [];
    const gone = await sweepFinished(this.store, this.files, now - this.retentionMs);
    if (gone.length) console.error(`posttrain: retention removed ${gone.length} finished job(s)`);
    return gone;
  }

  /** Continue a prompt (`POST /v1/generate`) on the executor; the model and adapter resolve here. */
  async generate(r: GenerateRequest): Promise<{ text: string }> {
    this.checkBackend(r.backend);
    const refs = await resolveRefs(
      { type: "generate", ...r },
      this.models,
      (j, m) => this.resolveAdapter(j, m),
    );
    return await this.executor.generate(r, refs, r.backend ?? this.defaultBackend);
  }

  /**
   * Cancel a job: a queued one at once, a running one at its next step (on whichever instance runs it;
   * this waits up to a minute for it to stop). Returns the record.
   */
  async cancel(id: string): Promise<JobRecord | undefined> {
    const job = await this.store.get(id);
    if (!job || TERMINAL.includes(job.status)) return job;
    const i = this.#queue.indexOf(id);
    if (i >= 0) this.#queue.splice(i, 1);
    const active = this.#active.get(id);
    const rec = await this.store.update(id, (j) => {
      if (TERMINAL.includes(j.status)) return undefined;
      // a live holder (this instance or another) stops at its next step; nobody else's: now
      if (active || heldByOther(j, this.instance, Date.now())) return { ...j, cancel_requested: true };
      return { ...j, status: "canceled", finished_at: now(), cancel_requested: true };
    });
    if (!rec || rec.status === "canceled") {
      await this.#dispose(id);
      await this.files.removeOutput(id);
      return rec;
    }
    active?.ac.abort("cancel");
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 60_000);
    try {
      for await (const j of this.store.watch(id, ac.signal)) if (TERMINAL.includes(j.status)) break;
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
    if (active) await Promise.race([active.done, new Promise((r) => setTimeout(r, 1_000))]);
    return await this.store.get(id);
  }

  /**
   * Pick up the queued jobs and those no live instance holds (interrupted by a restart or a crash),
   * and start working; with `pollMs`, look again at that interval.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#scan();
    if (this.pollMs > 0) this.#poll = setInterval(() => this.#scan().catch(() => {}), this.pollMs);
    if (this.retentionMs !== undefined) {
      await this.sweepRetention();
      const every = Math.min(3_600_000, Math.max(1_000, Math.round(this.retentionMs / 10)));
      this.#retention = setInterval(() => this.sweepRetention().catch(() => {}), every);
    }
  }

  /** Queue what the store has for this instance to take. */
  async #scan(): Promise<void> {
    if (this.#polling || this.#stopped) return;
    this.#polling = true;
    try {
      const pending = await this.store.list({ status: ["running", "queued"] });
      const t = Date.now();
      for (const j of pending.reverse()) {
        if (this.#queue.includes(j.id) || this.#active.has(j.id)) continue;
        if (heldByOther(j, this.instance, t) && !(this.#gone && await this.#gone(j.lease!.holder))) continue;
        this.#queue.push(j.id);
      }
      this.#pump();
    } finally {
      this.#polling = false;
    }
  }

  /**
   * Stop working: running jobs save a checkpoint at their next step and stay `running`; the
   * executor is closed.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#poll);
    clearInterval(this.#retention);
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
   * Run one chunk of a job, under its lease (taken when the job is queued or nobody live holds it;
   * renewed otherwise). Returns true when more chunks remain. Edge deployments call this from a queue
   * handler or a cron instead of {@link start}. `signal` aborted with "lost" stops the chunk with
   * nothing written (see {@link JobRunner.#drive}).
   */
  async advance(id: string, signal?: AbortSignal): Promise<boolean> {
    const job = await claimJob(this.store, id, {
      holder: this.instance,
      leaseMs: this.leaseMs,
      gone: this.#gone,
    });
    if (!job) return false;
    if (job.cancel_requested) return (await this.#finishCanceled(id), false);
    const lease = { holder: this.instance, ms: this.leaseMs };
    const progress = progressWriter(this.store, id, lease, (rec, ok) => this.#heard(id, rec, ok));
    try {
      this.#warm.add(id);
      const { outcome, patch } = await this.executor.chunk(job, {
        signal,
        onProgress: (p) => progress.push(p),
      });
      await progress.flush();
      if (signal?.aborted && signal.reason === "lost") return false;
      let rec: JobRecord | undefined;
      if (patch) {
        const w = await writeHeld(this.store, id, this.instance, this.leaseMs, (j) => applyPatch(j, patch));
        if (!w.ok) return (await this.#lost(id, w.rec), false);
        rec = w.rec;
        if (patch.status && this.#logEnds) {
          console.error(`posttrain: job ${id} ${patch.status} (instance ${this.instance})`);
        }
      }
      if (outcome === "canceled" || (outcome !== "done" && rec?.cancel_requested)) {
        await this.#finishCanceled(id);
        return false;
      }
      if (outcome === "done") await this.#dispose(id);
      return outcome === "more";
    } catch (e) {
      await progress.flush();
      if (signal?.aborted && signal.reason === "lost") return false;
      await this.#fail(id, e);
      return false;
    }
  }

  /** What a holder's write found: stop on a lost lease, or on a cancel asked on another instance. */
  #heard(id: string, rec: JobRecord | undefined, ok: boolean): void {
    const a = this.#active.get(id);
    if (!a || a.ac.signal.aborted) return;
    if (!ok && rec && !TERMINAL.includes(rec.status) && !holds(rec, this.instance)) a.ac.abort("lost");
    else if (rec?.cancel_requested) a.ac.abort("cancel");
  }

  /** Another instance took the job (this one was too slow to renew): drop what is held, write nothing. */
  async #lost(id: string, rec: JobRecord | undefined): Promise<void> {
    if (rec && !TERMINAL.includes(rec.status)) {
      console.error(`posttrain: job ${id}: lease lost to ${rec.lease?.holder ?? "nobody"}; stopped here`);
    }
    await this.#dispose(id, false);
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
      const done = this.#drive(id, ac).finally(() => {
        this.#active.delete(id);
        this.#pump();
        if (this.#queue.length === 0 && this.#active.size === 0) this.#idle.splice(0).forEach((r) => r());
      });
      this.#active.set(id, { ac, done });
    }
  }

  async #drive(id: string, ac: AbortController): Promise<void> {
    const signal = ac.signal;
    // the heartbeat: a step may take longer than the lease, the store must hear from us meanwhile
    const beat = setInterval(async () => {
      if (signal.aborted) return;
      const { rec, ok } = await writeHeld(this.store, id, this.instance, this.leaseMs, (j) => j).catch(
        () => ({ rec: undefined, ok: true }),
      );
      this.#heard(id, rec, ok);
    }, Math.max(50, Math.floor(this.leaseMs / 3)));
    try {
      const j = await claimJob(this.store, id, {
        holder: this.instance,
        leaseMs: this.leaseMs,
        gone: this.#gone,
      });
      if (!j) return;
      await this.#onTake?.(id);
      while (!signal.aborted && await this.advance(id, signal)) await tick();
      // a cancel that lands between two chunks ends the loop before any chunk sees it
      if (signal.aborted && signal.reason === "cancel") {
        const j = await this.store.get(id);
        if (j && !TERMINAL.includes(j.status) && holds(j, this.instance)) await this.#finishCanceled(id);
      }
    } catch (e) {
      console.error(`job ${id}: ${(e as Error).stack ?? e}`);
    } finally {
      clearInterval(beat);
    }
    const j = await this.store.get(id).catch(() => undefined);
    if (j && !TERMINAL.includes(j.status)) {
      // paused (a shutdown) or lost: free the warm state; a shutdown lets the job go at once
      await this.#dispose(id, false);
      if (signal.reason !== "lost") await releaseJob(this.store, id, this.instance).catch(() => {});
    }
  }

  async #fail(id: string, e: unknown): Promise<void> {
    const msg = (e as Error).message ?? String(e);
    const m = msg.match(/^(?:unlearn )?step (\d+): .*not finite/);
    const error = m
      ? { code: "non_finite_loss", message: msg, step: Number(m[1]) }
      : { code: e instanceof PosttrainError ? e.code : "job_failed", message: msg };
    const w = await writeHeld(
      this.store,
      id,
      this.instance,
      this.leaseMs,
      (j) => ({ ...j, status: "failed", finished_at: now(), error }),
    );
    if (!w.ok) return await this.#lost(id, w.rec);
    await this.#dispose(id);
    await this.files.removeOutput(id);
  }

  /** End a job this instance holds as canceled (it asked for it, or was asked on another instance). */
  async #finishCanceled(id: string): Promise<JobRecord | undefined> {
    const w = await writeHeld(
      this.store,
      id,
      this.instance,
      this.leaseMs,
      (j) => ({ ...j, status: "canceled", finished_at: now(), cancel_requested: true }),
    );
    if (!w.ok) return (await this.#lost(id, w.rec), w.rec);
    await this.#dispose(id);
    await this.files.removeOutput(id);
    return w.rec;
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
