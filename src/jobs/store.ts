/**
 * @module The job record and the store interface the runner and the routes share. Records stay
 * small (well under Deno KV's 64 KiB value limit): rows and weights live on disk (see
 * `artifacts.ts`), a record holds status, the latest progress, the result and artifact metadata.
 * Implementations: `MemoryJobStore` (tests, edge runtimes without KV) and `KvJobStore` (Deno KV).
 */
import type { JobType } from "./spec.ts";

/** Lifecycle of a job. */
export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "canceled";
/** Statuses after which nothing changes. */
export const TERMINAL: readonly JobStatus[] = ["succeeded", "failed", "canceled"];

/** Latest progress of a job (`step` of `steps`; for eval, batches). */
export interface JobProgress {
  step: number;
  steps: number;
  loss?: number;
  lr?: number;
  grad_norm?: number;
  tokens_per_s?: number;
  eta_s?: number;
  /** Unlearn: the mean forget NLL (first-order: of the step's batch; kfade: of all forget rows). */
  forget_loss?: number;
  /** Last step saved in a checkpoint (a restart resumes there). */
  checkpoint_step?: number;
}

/** One downloadable file of a job. */
export interface ArtifactInfo {
  name: string;
  size: number;
  sha256: string;
}

/**
 * Who works on a job, until when (see `lease.ts`): taken with a compare-and-set on the record, renewed
 * at every step and chunk; every write of the holder checks it still holds it.
 */
export interface JobLease {
  /** The instance (server process or isolate) that holds the job. */
  holder: string;
  /** Epoch ms after which another instance may take the job over. */
  expires: number;
}

/** Why a job failed. */
export interface JobError {
  code: string;
  message: string;
  /** The optimizer step that failed, when one did. */
  step?: number;
}

/** A job as stored. */
export interface JobRecord {
  id: string;
  type: JobType;
  status: JobStatus;
  /** The model reference as requested. */
  model: string;
  method?: string;
  created_at: string;
  updated_at: string;
  started_at?: string;
  finished_at?: string;
  progress: JobProgress;
  result?: Record<string, number>;
  error?: JobError;
  artifacts?: ArtifactInfo[];
  /** Jobs whose output this one reads (its `adapter`): not removed while this one has not ended. */
  uses?: string[];
  /** Set by a cancel request; the runner stops at the next step. */
  cancel_requested?: boolean;
  /** Times the job was picked up again after a restart or by another instance. */
  resumes?: number;
  /** The lease of the instance working on it (kept after the end: who finished it). */
  lease?: JobLease;
  /** Progress points so far (history.ts: step, loss, lr, grad_norm, tokens_per_s, forget_loss). */
  history?: { stride: number; points: (number | null)[][] };
  /** Runner bookkeeping (checkpoint slot, partial eval sums); not shown over HTTP. */
  state?: Record<string, number | string>;
  /** Bumped on every write. */
  version: number;
}

/** Filter of {@link JobStore.list}. */
export interface ListOptions {
  status?: readonly JobStatus[];
  /** Most records returned (newest first). */
  limit?: number;
}

/** Where job records live. */
export interface JobStore {
  /** Add a new record (fails when the id exists). */
  create(job: JobRecord): Promise<void>;
  /** The record, or undefined. */
  get(id: string): Promise<JobRecord | undefined>;
  /**
   * Read-modify-write with optimistic concurrency: `fn` gets the current record and returns the
   * new one (or undefined to leave it); retried on a concurrent write. Returns the stored record.
   */
  update(id: string, fn: (job: JobRecord) => JobRecord | undefined): Promise<JobRecord | undefined>;
  /** Records, newest first. */
  list(opts?: ListOptions): Promise<JobRecord[]>;
  /** Delete the record (watchers end); false when there was none. */
  remove(id: string): Promise<boolean>;
  /** The record now and after every change, until `signal` aborts or the record is gone. */
  watch(id: string, signal?: AbortSignal): AsyncIterable<JobRecord>;
  /** Release resources. */
  close(): void;
}

/** Largest record a store accepts (Deno KV's value limit is 65,536 bytes). */
export const MAX_RECORD_BYTES = 60_000;

/** Throw when a record would not fit a KV value. */
export function checkRecordSize(job: JobRecord): void {
  const n = new TextEncoder().encode(JSON.stringify(job)).length;
  if (n > MAX_RECORD_BYTES) {
    throw new Error(`job ${job.id}: record of ${n} bytes exceeds ${MAX_RECORD_BYTES}`);
  }
}

/**
 * A new time-ordered job id (`job_` + base-36 milliseconds + random), so ids sort by creation.
 *
 * @example
 * ```ts
 * newJobId(); // "job_mhx3k2a0_9f2c41d7"
 * ```
 */
export function newJobId(): string {
  const rand = crypto.getRandomValues(new Uint8Array(4));
  return `job_${Date.now().toString(36).padStart(9, "0")}_${
    [...rand].map((b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}
