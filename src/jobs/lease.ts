/**
 * @module Job leases: how several server processes (or isolates) share one job store without a
 * coordinator of their own. A lease is a field of the job record (`{holder, expires}`) and every
 * change of it is the store's compare-and-set (`JobStore.update`: Deno KV's `atomic().check()`, the
 * memory store's single thread, a Durable Object's one-event-at-a-time), so two instances can never
 * both take a job. The holder renews it at every step, chunk and heartbeat; an instance takes a job
 * over when its lease has expired or its holder is known to be gone. Every write of a holder checks
 * that it still holds the lease, so one that lost it (paused, partitioned) writes nothing, and a
 * job's result is written exactly once.
 */
import { type JobRecord, type JobStore, TERMINAL } from "./store.ts";

/** Default lease length: a holder silent this long loses its jobs. */
export const DEFAULT_LEASE_MS = 15_000;

/**
 * A new instance id (`<label>-<random>`), the holder name of its leases.
 *
 * @example
 * ```ts
 * newInstanceId("host-4242"); // "host-4242-9f2c41d7"
 * ```
 */
export function newInstanceId(label = "posttrain"): string {
  const rand = [...crypto.getRandomValues(new Uint8Array(4))].map((b) => b.toString(16).padStart(2, "0"));
  return `${label.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 48)}-${rand.join("")}`;
}

/** Whether `holder` holds the job's lease (expired or not: nobody else took it). */
export function holds(j: JobRecord | undefined, holder: string): boolean {
  return j?.lease?.holder === holder;
}

/** Whether another instance holds a live lease on the job at `now` (epoch ms). */
export function heldByOther(j: JobRecord, holder: string, now: number): boolean {
  return !!j.lease && j.lease.holder !== holder && j.lease.expires > now;
}

/** Where a running job really stands after a takeover: progress past the last checkpoint is redone. */
export function rewound(j: JobRecord): JobRecord["progress"] {
  return {
    ...j.progress,
    step: j.type === "finetune" ? j.progress.checkpoint_step ?? 0 : j.type === "eval" ? j.progress.step : 0, // unlearn and coreset start over
  };
}

/** Options of {@link claimJob}. */
export interface ClaimOptions {
  holder: string;
  leaseMs: number;
  /** Whether a holder is known to be gone (its lease may be taken before it expires). */
  gone?: (holder: string) => Promise<boolean>;
}

/**
 * Take (or renew) the lease on a queued or running job: returns the record when this instance holds
 * it now, undefined when another live instance does or the job has ended. A queued job becomes
 * `running`; a running job taken from another holder (or from none: a server that stopped) counts a
 * resume and shows the step it restarts from.
 *
 * @example
 * ```ts ignore
 * const job = await claimJob(store, id, { holder: "a-1f2e3d4c", leaseMs: 15_000 });
 * if (job) { ... } // ours until job.lease.expires, unless renewed
 * ```
 */
export async function claimJob(store: JobStore, id: string, o: ClaimOptions): Promise<JobRecord | undefined> {
  const cur = await store.get(id);
  if (!cur || TERMINAL.includes(cur.status)) return undefined;
  const other = cur.lease && cur.lease.holder !== o.holder ? cur.lease.holder : undefined;
  const dead = other && cur.lease!.expires > Date.now() && o.gone ? await o.gone(other) : false;
  const rec = await store.update(id, (j) => {
    const t = Date.now();
    if (TERMINAL.includes(j.status)) return undefined;
    const lease = { holder: o.holder, expires: t + o.leaseMs };
    if (holds(j, o.holder)) return { ...j, lease };
    if (heldByOther(j, o.holder, t) && !(dead && j.lease!.holder === other)) return undefined;
    if (j.status === "queued") {
      return { ...j, status: "running", started_at: new Date(t).toISOString(), lease };
    }
    return { ...j, lease, resumes: (j.resumes ?? 0) + 1, progress: rewound(j) };
  });
  return rec && holds(rec, o.holder) && !TERMINAL.includes(rec.status) ? rec : undefined;
}

/**
 * Write `fn`'s change only while `holder` holds the job's lease (and the job has not ended),
 * extending the lease; returns the stored record and whether the change was written.
 *
 * @example
 * ```ts ignore
 * const { rec, ok } = await writeHeld(store, id, holder, 15_000, (j) => ({ ...j, result }));
 * ```
 */
export async function writeHeld(
  store: JobStore,
  id: string,
  holder: string,
  leaseMs: number,
  fn: (j: JobRecord) => JobRecord,
): Promise<{ rec: JobRecord | undefined; ok: boolean }> {
  let ok = false;
  const rec = await store.update(id, (j) => {
    ok = false; // update retries this on a concurrent write
    if (!holds(j, holder) || TERMINAL.includes(j.status)) return undefined;
    ok = true;
    return { ...fn(j), lease: { holder, expires: Date.now() + leaseMs } };
  });
  return { rec, ok };
}

/**
 * Let go of a job that is not over (a shutdown): another instance may take it at once.
 *
 * @example
 * ```ts ignore
 * await releaseJob(store, id, holder);
 * ```
 */
export async function releaseJob(store: JobStore, id: string, holder: string): Promise<void> {
  await store.update(id, (j) => {
    if (!holds(j, holder) || TERMINAL.includes(j.status)) return undefined;
    const { lease: _l, ...rest } = j;
    return rest;
  });
}
