/**
 * @module Deno KV job store (`"unstable": ["kv"]`): a local SQLite file by default (path
 * configurable), or Deno Deploy's managed KV when opened without a path there. One key per job,
 * `["posttrain", "jobs", id]`; writes are compare-and-set on the versionstamp, so concurrent
 * updates (progress vs. cancel) never lose each other, and the job leases of several server processes
 * (`lease.ts`) are compare-and-set too; `watch` streams changes for SSE. Several processes may open one
 * SQLite file: a write that meets another process's lock ("database is locked") is retried, and `watch`
 * also re-reads the record every second (a local KV only hears its own process's writes). The jobs not yet
 * ended are indexed under `["posttrain", "active", id]` (written in the same atomic operation as the
 * record), so the runners' scans for work read those, not every record ever kept.
 */
import { checkRecordSize, type JobRecord, type JobStore, type ListOptions, TERMINAL } from "./store.ts";

const PREFIX = ["posttrain", "jobs"] as const;
const ACTIVE = ["posttrain", "active"] as const;
/** Set once the active index covers every record (files written before it existed are indexed once). */
const INDEXED: Deno.KvKey = ["posttrain", "meta", "active_index"];
const key = (id: string): Deno.KvKey => [...PREFIX, id];
const activeKey = (id: string): Deno.KvKey => [...ACTIVE, id];

/** Keep the active index of `job` in the atomic operation that writes it. */
function indexed(op: Deno.AtomicOperation, job: JobRecord): Deno.AtomicOperation {
  return TERMINAL.includes(job.status) ? op.delete(activeKey(job.id)) : op.set(activeKey(job.id), true);
}
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
  #index?: Promise<void>;

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
      indexed(this.kv.atomic().check({ key: key(job.id), versionstamp: null }).set(key(job.id), job), job)
        .commit()
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
      const r = await unlocked(() =>
        indexed(this.kv.atomic().check(cur).set(key(id), stored), stored).commit()
      );
      if (r.ok) return stored;
    }
    throw new Error(`job ${id}: too many concurrent updates`);
  }

  async list(opts: ListOptions = {}): Promise<JobRecord[]> {
    if (opts.status && opts.status.every((st) => !TERMINAL.includes(st))) return await this.#listActive(opts);
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

  /** Jobs not yet ended, through the active index. */
  async #listActive(opts: ListOptions): Promise<JobRecord[]> {
    await (this.#index ??= this.#buildIndex().catch((e) => {
      this.#index = undefined;
      throw e;
    }));
    return await unlocked(async () => {
      const ids: string[] = [];
      for await (const e of this.kv.list({ prefix: [...ACTIVE] }, { reverse: true })) {
        ids.push(e.key.at(-1) as string);
      }
      const out: JobRecord[] = [];
      for (let i = 0; i < ids.length; i += 10) {
        for (const e of await this.kv.getMany<JobRecord[]>(ids.slice(i, i + 10).map(key))) {
          if (!e.value || !opts.status!.includes(e.value.status)) continue;
          out.push(e.value);
          if (opts.limit !== undefined && out.length >= opts.limit) return out;
        }
      }
      return out;
    });
  }

  /** Index the records of a file written before the index existed (once per file). */
  async #buildIndex(): Promise<void> {
    if ((await unlocked(() => this.kv.get(INDEXED))).value) return;
    for await (const e of this.kv.list<JobRecord>({ prefix: [...PREFIX] })) {
      if (!TERMINAL.includes(e.value.status)) {
        await unlocked(() => this.kv.set(activeKey(e.value.id), true));
      }
    }
    await unlocked(() => this.kv.set(INDEXED, true));
  }

  async remove(id: string): Promise<boolean> {
    const cur = await unlocked(() => this.kv.get(key(id)));
    if (!cur.value) return false;
    return (await unlocked(() => this.kv.atomic().check(cur).delete(key(id)).delete(activeKey(id)).commit()))
      .ok;
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
