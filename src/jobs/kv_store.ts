/**
 * @module Deno KV job store (`"unstable": ["kv"]`): a local SQLite file by default (path
 * configurable), or Deno Deploy's managed KV when opened without a path there. One key per job,
 * `["posttrain", "jobs", id]`; writes are compare-and-set on the versionstamp, so concurrent
 * updates (progress vs. cancel) never lose each other, and the job leases of several server processes
 * (`lease.ts`) are compare-and-set too; `watch` streams changes for SSE. Several processes may open one
 * SQLite file: a write that meets another process's lock ("database is locked") is retried, and `watch`
 * also re-reads the record every second (a local KV only hears its own process's writes).
 */
import { checkRecordSize, type JobRecord, type JobStore, type ListOptions } from "./store.ts";

const PREFIX = ["posttrain", "jobs"] as const;
const key = (id: string): Deno.KvKey => [...PREFIX, id];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run `fn`, retrying while another process holds the SQLite file's lock (up to ~10 s). */
async function unlocked<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= 200 || !/database is locked|SQLITE_BUSY/i.test(String((e as Error)?.message))) throw e;
      await sleep(5 + Math.random() * 45);
    }
  }
}

/**
 * Job records in Deno KV.
 *
 * @example
 * ```ts ignore
 * const store = await KvJobStore.open("./data/posttrain.kv");
 * const job = await store.get("job_…");
 * store.close();
 * ```
 */
export class KvJobStore implements JobStore {
  #closed = false;

  constructor(readonly kv: Deno.Kv) {}

  /** Open (creating) the KV database at `path` (undefined: the runtime's default database). */
  static async open(path?: string): Promise<KvJobStore> {
    if (typeof Deno.openKv !== "function") {
      throw new Error(
        'Deno KV is unavailable: add "unstable": ["kv"] to deno.json or run with --unstable-kv',
      );
    }
    return new KvJobStore(await Deno.openKv(path));
  }

  async create(job: JobRecord): Promise<void> {
    checkRecordSize(job);
    const r = await unlocked(() =>
      this.kv.atomic().check({ key: key(job.id), versionstamp: null }).set(key(job.id), job).commit()
    );
    if (!r.ok) throw new Error(`job ${job.id} exists`);
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return (await unlocked(() => this.kv.get<JobRecord>(key(id)))).value ?? undefined;
  }

  async update(id: string, fn: (job: JobRecord) => JobRecord | undefined): Promise<JobRecord | undefined> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const cur = await unlocked(() => this.kv.get<JobRecord>(key(id)));
      if (!cur.value) return undefined;
      const next = fn(structuredClone(cur.value));
      if (!next) return cur.value;
      const stored = { ...next, version: cur.value.version + 1, updated_at: new Date().toISOString() };
      checkRecordSize(stored);
      const r = await unlocked(() => this.kv.atomic().check(cur).set(key(id), stored).commit());
      if (r.ok) return stored;
    }
    throw new Error(`job ${id}: too many concurrent updates`);
  }

  async list(opts: ListOptions = {}): Promise<JobRecord[]> {
    return await unlocked(async () => {
      const out: JobRecord[] = [];
      for await (const e of this.kv.list<JobRecord>({ prefix: [...PREFIX] }, { reverse: true })) {
        if (opts.status && !opts.status.includes(e.value.status)) continue;
        out.push(e.value);
        if (opts.limit !== undefined && out.length >= opts.limit) break;
      }
      return out;
    });
  }

  async remove(id: string): Promise<boolean> {
    const cur = await unlocked(() => this.kv.get(key(id)));
    if (!cur.value) return false;
    return (await unlocked(() => this.kv.atomic().check(cur).delete(key(id)).commit())).ok;
  }

  async *watch(id: string, signal?: AbortSignal): AsyncIterable<JobRecord> {
    if (this.#closed || signal?.aborted) return;
    const reader = this.kv.watch([key(id)]).getReader();
    const onAbort = () => reader.cancel().catch(() => {});
    signal?.addEventListener("abort", onAbort);
    let last = "";
    let next: Promise<ReadableStreamReadResult<Deno.KvEntryMaybe<unknown>[]>> | undefined;
    try {
      while (!signal?.aborted && !this.#closed) {
        next ??= reader.read().catch(() => ({ done: true as const, value: undefined }));
        let timer: ReturnType<typeof setTimeout> | undefined;
        const r = await Promise.race([
          next,
          new Promise<"poll">((res) => (timer = setTimeout(res, 1_000, "poll"))),
        ]);
        clearTimeout(timer);
        let e: Deno.KvEntryMaybe<unknown>;
        if (r === "poll") {
          // another process's write: the local watch does not hear it
          e = await unlocked(() => this.kv.get(key(id)));
        } else {
          next = undefined;
          if (r.done) return;
          e = r.value[0];
        }
        if (!e.value) return;
        if (e.versionstamp === last) continue;
        last = e.versionstamp!;
        yield e.value as JobRecord;
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      await reader.cancel().catch(() => {});
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.kv.close();
  }
}
