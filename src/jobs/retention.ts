/**
 * @module Removing finished jobs: one on request (`DELETE /v1/jobs/:id` on a job that has ended), or every
 * job that ended before a cut-off (`POSTTRAIN_RETENTION`), record and files. Several instances may sweep
 * at once: a removal that finds nothing left is a no-op.
 */
import { PosttrainError } from "../errors.ts";
import type { ArtifactStore } from "./artifacts.ts";
import { type JobRecord, type JobStore, TERMINAL } from "./store.ts";

/** The job not yet ended that reads `id`'s output (its `adapter`), if any. */
async function userOf(store: JobStore, id: string): Promise<JobRecord | undefined> {
  const live = await store.list({ status: ["queued", "running"] });
  return live.find((j) => j.uses?.includes(id));
}

/**
 * Remove a job that has ended, record and files; undefined when there is none; a job not yet ended is a
 * `job_not_finished` error (cancel it first), one whose output a job not yet ended reads (as its
 * `adapter`) a `job_in_use` error.
 *
 * @example
 * ```ts ignore
 * await removeFinished(store, files, "job_mhx3k2a0_9f2c41d7"); // the record as it was
 * ```
 */
export async function removeFinished(
  store: JobStore,
  files: ArtifactStore,
  id: string,
): Promise<JobRecord | undefined> {
  const j = await store.get(id);
  if (!j) return undefined;
  if (!TERMINAL.includes(j.status)) {
    throw new PosttrainError("job_not_finished", `job ${id} is ${j.status}: cancel it first`, "id");
  }
  const user = await userOf(store, id);
  if (user) {
    throw new PosttrainError(
      "job_in_use",
      `job ${id} is the adapter of job ${user.id} (${user.status}): remove it once that job has ended`,
      "id",
    );
  }
  await store.remove(id);
  await files.removeJob(id);
  return j;
}

/**
 * Remove every job that ended before `before` (epoch ms), record and files, but those whose output a
 * job not yet ended reads; returns their ids.
 *
 * @example
 * ```ts ignore
 * await sweepFinished(store, files, Date.now() - 7 * 86_400_000); // older than a week
 * ```
 */
export async function sweepFinished(
  store: JobStore,
  files: ArtifactStore,
  before: number,
): Promise<string[]> {
  const cut = new Date(before).toISOString();
  const gone: string[] = [];
  const live = await store.list({ status: ["queued", "running"] });
  const inUse = new Set(live.flatMap((j) => j.uses ?? []));
  for (const j of await store.list({ status: TERMINAL })) {
    if ((j.finished_at ?? j.updated_at) >= cut || inUse.has(j.id)) continue;
    await store.remove(j.id);
    await files.removeJob(j.id);
    gone.push(j.id);
  }
  return gone;
}
