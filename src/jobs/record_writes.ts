/**
 * @module The runner's writes to a job record while it holds the job: progress merged and written one
 * write at a time (a slow store never queues them up), each renewing the lease (`lease.ts`), and a
 * chunk's patch applied to the record.
 */
import type { JobProgress, JobRecord, JobStore } from "./store.ts";
import type { RecordPatch } from "./work.ts";
import { writeHeld } from "./lease.ts";

const now = () => new Date().toISOString();

/**
 * Progress merged and written one write at a time, so a slow store never queues them up; each write
 * renews the lease and tells `seen` what the record says (a cancel, a lost lease).
 */
export function progressWriter(
  store: JobStore,
  id: string,
  lease: { holder: string; ms: number },
  seen: (rec: JobRecord | undefined, ok: boolean) => void,
) {
  let pending: Partial<JobProgress> | undefined, writing: Promise<void> | undefined;
  // `writing` is cleared in the same synchronous run as the loop's last check of `pending`, so a
  // push can never land between the two and be left unwritten (a cleared flag in a `.finally`
  // handler ran a few microtasks later: a push in that window started no drain).
  const drain = async () => {
    while (pending) {
      const p = pending;
      pending = undefined;
      try {
        const { rec, ok } = await writeHeld(
          store,
          id,
          lease.holder,
          lease.ms,
          (j) => ({ ...j, progress: { ...j.progress, ...p } }),
        );
        seen(rec, ok);
      } catch (e) {
        console.error(`job ${id}: progress: ${(e as Error).message}`);
      }
    }
    writing = undefined;
  };
  return {
    push(p: Partial<JobProgress>): void {
      pending = { ...pending, ...p };
      writing ??= drain();
    },
    async flush(): Promise<void> {
      while (writing) await writing;
    },
  };
}

/** A record with a chunk's patch applied. */
export function applyPatch(j: JobRecord, p: RecordPatch): JobRecord {
  return {
    ...j,
    ...(p.status ? { status: p.status, finished_at: now() } : {}),
    ...(p.result ? { result: p.result } : {}),
    ...(p.artifacts ? { artifacts: p.artifacts } : {}),
    ...(p.state ? { state: { ...j.state, ...p.state } } : {}),
    progress: { ...j.progress, ...p.progress },
  };
}
