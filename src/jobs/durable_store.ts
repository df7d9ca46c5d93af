/**
 * @module Job records in a Cloudflare Durable Object's storage (workerd keeps it on local disk): the
 * store of the Workers deployment (`src/edge/worker.ts`). One key per job, `job:<id>`. A Durable Object
 * runs one event at a time, so a read-modify-write in memory needs no compare-and-set (and it is the one
 * holder of its jobs' leases by construction, `lease.ts`): records are held
 * in a {@link MemoryJobStore} (which also gives `watch` for SSE) and every change is written through to
 * the storage before the call returns.
 */
import { MemoryJobStore } from "./memory_store.ts";
import type { JobRecord, JobStore, ListOptions } from "./store.ts";

/** The part of a Durable Object's `state.storage` this store uses. */
export interface DurableRecords {
  put(entries: Record<string, unknown>): Promise<void>;
  list<T = unknown>(opts: { prefix: string }): Promise<Map<string, T>>;
  delete(keys: string[]): Promise<number>;
}

const PREFIX = "job:";

/**
 * Job records in Durable Object storage, cached in memory.
 *
 * @example
 * ```ts ignore
 * const store = await DurableJobStore.open(state.storage);
 * ```
 */
export class DurableJobStore implements JobStore {
  readonly #mem = new MemoryJobStore();

  private constructor(readonly kv: DurableRecords) {}

  /** Load every stored record. */
  static async open(kv: DurableRecords): Promise<DurableJobStore> {
    const s = new DurableJobStore(kv);
    const all = await kv.list<JobRecord>({ prefix: PREFIX });
    for (const j of [...all.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) await s.#mem.create(j);
    return s;
  }

  async create(job: JobRecord): Promise<void> {
    await this.#mem.create(job);
    await this.kv.put({ [PREFIX + job.id]: job });
  }

  get(id: string): Promise<JobRecord | undefined> {
    return this.#mem.get(id);
  }

  async update(id: string, fn: (job: JobRecord) => JobRecord | undefined): Promise<JobRecord | undefined> {
    const before = (await this.#mem.get(id))?.version;
    const rec = await this.#mem.update(id, fn);
    if (rec && rec.version !== before) await this.kv.put({ [PREFIX + id]: rec });
    return rec;
  }

  list(opts?: ListOptions): Promise<JobRecord[]> {
    return this.#mem.list(opts);
  }

  async remove(id: string): Promise<boolean> {
    const had = await this.#mem.remove(id);
    if (had) await this.kv.delete([PREFIX + id]);
    return had;
  }

  watch(id: string, signal?: AbortSignal): AsyncIterable<JobRecord> {
    return this.#mem.watch(id, signal);
  }

  close(): void {
    this.#mem.close();
  }
}
