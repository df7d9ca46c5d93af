/**
 * @module In-memory job store: for tests, single-process servers that need no persistence, and
 * edge runtimes without Deno KV (Cloudflare Workers, Vercel Edge). Records are cloned on the way
 * in and out, so callers never alias the stored state.
 */
import { checkRecordSize, type JobRecord, type JobStore, type ListOptions } from "./store.ts";

/**
 * Job records in a Map, with change notifications for {@link MemoryJobStore.watch}.
 *
 * @example
 * ```ts
 * const store = new MemoryJobStore();
 * await store.create(job);
 * await store.update(job.id, (j) => ({ ...j, status: "running" }));
 * ```
 */
export class MemoryJobStore implements JobStore {
  #jobs = new Map<string, JobRecord>();
  #listeners = new Map<string, Set<() => void>>();
  #closed = false;

  // deno-lint-ignore require-await
  async create(job: JobRecord): Promise<void> {
    if (this.#jobs.has(job.id)) throw new Error(`job ${job.id} exists`);
    checkRecordSize(job);
    this.#jobs.set(job.id, structuredClone(job));
    this.#notify(job.id);
  }

  // deno-lint-ignore require-await
  async get(id: string): Promise<JobRecord | undefined> {
    const j = this.#jobs.get(id);
    return j && structuredClone(j);
  }

  // deno-lint-ignore require-await
  async update(id: string, fn: (job: JobRecord) => JobRecord | undefined): Promise<JobRecord | undefined> {
    const cur = this.#jobs.get(id);
    if (!cur) return undefined;
    const next = fn(structuredClone(cur));
    if (!next) return structuredClone(cur);
    const stored = { ...next, version: cur.version + 1, updated_at: new Date().toISOString() };
    checkRecordSize(stored);
    this.#jobs.set(id, structuredClone(stored));
    this.#notify(id);
    return stored;
  }

  // deno-lint-ignore require-await
  async list(opts: ListOptions = {}): Promise<JobRecord[]> {
    const all = [...this.#jobs.values()].filter((j) => !opts.status || opts.status.includes(j.status));
    all.sort((a, b) => (a.id < b.id ? 1 : -1));
    return all.slice(0, opts.limit ?? all.length).map((j) => structuredClone(j));
  }

  // deno-lint-ignore require-await
  async remove(id: string): Promise<boolean> {
    const had = this.#jobs.delete(id);
    if (had) this.#notify(id);
    return had;
  }

  async *watch(id: string, signal?: AbortSignal): AsyncIterable<JobRecord> {
    let wake: (() => void) | undefined;
    let dirty = true;
    const onChange = () => {
      dirty = true;
      wake?.();
    };
    const onAbort = () => wake?.();
    let set = this.#listeners.get(id);
    if (!set) this.#listeners.set(id, set = new Set());
    set.add(onChange);
    signal?.addEventListener("abort", onAbort);
    try {
      while (!signal?.aborted && !this.#closed) {
        if (!dirty) await new Promise<void>((r) => wake = r);
        wake = undefined;
        if (signal?.aborted || this.#closed) return;
        if (!dirty) continue;
        dirty = false;
        const j = this.#jobs.get(id);
        if (!j) return;
        yield structuredClone(j);
      }
    } finally {
      set.delete(onChange);
      if (set.size === 0) this.#listeners.delete(id);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  close(): void {
    this.#closed = true;
    for (const set of this.#listeners.values()) for (const f of set) f();
  }

  #notify(id: string): void {
    for (const f of this.#listeners.get(id) ?? []) f();
  }
}
