/**
 * @module Deno KV job store (`"unstable": ["kv"]`): a local SQLite file by default (path
 * configurable), or Deno Deploy's managed KV when opened without a path there. One key per job,
 * `["posttrain", "jobs", id]`; writes are compare-and-set on the versionstamp, so concurrent
 * updates (progress vs. cancel) never lose each other; `watch` streams changes for SSE.
 */
import { checkRecordSize, type JobRecord, type JobStore, type ListOptions } from "./store.ts";

const PREFIX = ["posttrain", "jobs"] as const;
const key = (id: string): Deno.KvKey => [...PREFIX, id];

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
    const r = await this.kv.atomic().check({ key: key(job.id), versionstamp: null }).set(key(job.id), job)
      .commit();
    if (!r.ok) throw new Error(`job ${job.id} exists`);
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return (await this.kv.get<JobRecord>(key(id))).value ?? undefined;
  }

  async update(id: string, fn: (job: JobRecord) => JobRecord | undefined): Promise<JobRecord | undefined> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const cur = await this.kv.get<JobRecord>(key(id));
      if (!cur.value) return undefined;
      const next = fn(structuredClone(cur.value));
      if (!next) return cur.value;
      const stored = { ...next, version: cur.value.version + 1, updated_at: new Date().toISOString() };
      checkRecordSize(stored);
      const r = await this.kv.atomic().check(cur).set(key(id), stored).commit();
      if (r.ok) return stored;
    }
    throw new Error(`job ${id}: too many concurrent updates`);
  }

  async list(opts: ListOptions = {}): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    for await (const e of this.kv.list<JobRecord>({ prefix: [...PREFIX] }, { reverse: true })) {
      if (opts.status && !opts.status.includes(e.value.status)) continue;
      out.push(e.value);
      if (opts.limit !== undefined && out.length >= opts.limit) break;
    }
    return out;
  }

  async *watch(id: string, signal?: AbortSignal): AsyncIterable<JobRecord> {
    if (this.#closed || signal?.aborted) return;
    const reader = this.kv.watch([key(id)]).getReader();
    const onAbort = () => reader.cancel().catch(() => {});
    signal?.addEventListener("abort", onAbort);
    let last = "";
    try {
      while (!signal?.aborted) {
        const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (r.done) return;
        const e = r.value[0];
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
