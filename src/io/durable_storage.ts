/**
 * @module Files in a Cloudflare Durable Object's storage (a Workers binding; workerd keeps it on local
 * disk): a {@link Storage} for job requests, checkpoints and artifacts on Workers. A file is a metadata
 * key `f:<path>` (size, chunk count, a generation id) and its bytes in chunks `c:<id>:<i>` of at most
 * {@link CHUNK_BYTES} by default (values are limited in size). A write puts the new chunks first, then the metadata
 * key, then drops the old chunks, so a reader sees the old file or the new one; a directory rename moves
 * metadata keys only, in one coalesced (atomic) batch of writes. Directories are implied by the files
 * under them (plus `d:<path>` markers that `mkdir` leaves).
 */
import { join } from "./path.ts";
import {
  bytesFile,
  type DirEntry,
  type FileInfo,
  keyOf,
  NotFoundError,
  type RandomAccessFile,
  type Storage,
} from "./storage.ts";

/** The part of a Durable Object's `state.storage` this module uses. */
export interface DurableObjectKv {
  get<T = unknown>(key: string): Promise<T | undefined>;
  get<T = unknown>(keys: string[]): Promise<Map<string, T>>;
  put(entries: Record<string, unknown>): Promise<void>;
  delete(keys: string[]): Promise<number>;
  list<T = unknown>(opts: { prefix: string }): Promise<Map<string, T>>;
}

/** Largest chunk value (Durable Object values are limited; SQLite-backed objects take 2 MB). */
export const CHUNK_BYTES = 512 * 1024;
/** Keys per storage call (the Durable Object limit is 128). */
const BATCH = 128;

interface Meta {
  size: number;
  chunks: number;
  /** Bytes per chunk (the last may be shorter). */
  chunkBytes: number;
  id: string;
  mtimeMs: number;
}

const under = (key: string, dir: string) => dir === "" || key.startsWith(dir + "/");
const fileKey = (key: string) => `f:${key}`;
const chunkKey = (id: string, i: number) => `c:${id}:${i}`;
const chunkKeys = (m: Meta) => Array.from({ length: m.chunks }, (_, i) => chunkKey(m.id, i));
const batches = <T>(xs: T[]) =>
  Array.from({ length: Math.ceil(xs.length / BATCH) }, (_, i) => xs.slice(i * BATCH, (i + 1) * BATCH));

/**
 * A {@link Storage} over a Durable Object's storage.
 *
 * @example
 * ```ts ignore
 * export class Jobs {
 *   constructor(state: DurableObjectState) {
 *     setStorage(new DurableStorage(state.storage));
 *   }
 * }
 * ```
 */
export class DurableStorage implements Storage {
  readonly kind = "durable-object";

  readonly #chunk: number;

  /** `chunkBytes`: the largest value written (default {@link CHUNK_BYTES}; KV-backed objects take 128 KiB). */
  constructor(readonly kv: DurableObjectKv, opts: { chunkBytes?: number } = {}) {
    this.#chunk = opts.chunkBytes ?? CHUNK_BYTES;
  }

  async #meta(path: string): Promise<Meta> {
    const m = await this.kv.get<Meta>(fileKey(keyOf(path)));
    if (!m) throw new NotFoundError(path);
    return m;
  }

  async #files(dir: string): Promise<Map<string, Meta>> {
    const key = keyOf(dir);
    const all = await this.kv.list<Meta>({ prefix: key === "" ? "f:" : `f:${key}/` });
    return new Map([...all].map(([k, m]) => [k.slice(2), m]));
  }

  async #dirs(dir: string): Promise<string[]> {
    const key = keyOf(dir);
    return [...(await this.kv.list({ prefix: key === "" ? "d:" : `d:${key}` })).keys()]
      .map((k) => k.slice(2)).filter((k) => k === key || under(k, key));
  }

  async #chunks(m: Meta, from: number, to: number): Promise<Uint8Array[]> {
    const keys = chunkKeys(m).slice(from, to), out: Uint8Array[] = [];
    for (const b of batches(keys)) {
      const got = await this.kv.get<Uint8Array>(b);
      for (const k of b) {
        const c = got.get(k);
        if (!c) throw new Error(`durable storage: chunk ${k} of a file is missing`);
        out.push(c);
      }
    }
    return out;
  }

  async read(path: string): Promise<Uint8Array> {
    const m = await this.#meta(path);
    const out = new Uint8Array(m.size);
    let pos = 0;
    for (const c of await this.#chunks(m, 0, m.chunks)) (out.set(c, pos), pos += c.length);
    return out;
  }

  async open(path: string): Promise<RandomAccessFile> {
    const m = await this.#meta(path);
    if (m.chunks <= 1) return bytesFile(path, await this.read(path));
    return {
      size: m.size,
      read: async (pos, dst) => {
        if (pos + dst.length > m.size) throw new Error(`${path}: unexpected end of file`);
        const size = m.chunkBytes;
        const first = Math.floor(pos / size), last = Math.ceil((pos + dst.length) / size);
        let at = first * size, got = 0;
        for (const c of await this.#chunks(m, first, last)) {
          const lo = Math.max(pos, at) - at, hi = Math.min(pos + dst.length, at + c.length) - at;
          if (hi > lo) (dst.set(c.subarray(lo, hi), got), got += hi - lo);
          at += c.length;
        }
        return dst;
      },
      close: () => {},
    };
  }

  async write(path: string, data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const key = keyOf(path), old = await this.kv.get<Meta>(fileKey(key));
    const m: Meta = {
      size: bytes.length,
      chunks: Math.ceil(bytes.length / this.#chunk),
      chunkBytes: this.#chunk,
      id: crypto.randomUUID(),
      mtimeMs: Date.now(),
    };
    // a value is serialized when put() is called, so one scratch buffer carries every full chunk (a view
    // would not do: it serializes its whole buffer), and a checkpoint's bytes are never copied whole again
    const scratch = new Uint8Array(Math.min(this.#chunk, bytes.length));
    for (let i = 0; i < m.chunks; i++) {
      const part = bytes.subarray(i * this.#chunk, (i + 1) * this.#chunk);
      await this.kv.put({
        [chunkKey(m.id, i)]: part.length === scratch.length ? (scratch.set(part), scratch) : part.slice(),
      });
    }
    await this.kv.put({ [fileKey(key)]: m });
    if (old) { for (const b of batches(chunkKeys(old))) await this.kv.delete(b); }
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    const key = keyOf(path), m = await this.kv.get<Meta>(fileKey(key));
    if (m) return { isFile: true, isDirectory: false, size: m.size, mtimeMs: m.mtimeMs };
    if (key === "" || (await this.#files(key)).size || (await this.#dirs(key)).length) {
      return { isFile: false, isDirectory: true, size: 0 };
    }
    return undefined;
  }

  async list(dir: string): Promise<DirEntry[]> {
    const key = keyOf(dir), files = await this.#files(key), dirs = await this.#dirs(key);
    if (key !== "" && !files.size && !dirs.length) throw new NotFoundError(dir);
    const out = new Map<string, DirEntry>();
    const add = (k: string, isFile: boolean) => {
      const rest = k.slice(key === "" ? 0 : key.length + 1), i = rest.indexOf("/");
      const name = i < 0 ? rest : rest.slice(0, i);
      if (name && !out.has(name)) {
        out.set(name, { name, isFile: isFile && i < 0, isDirectory: !isFile || i >= 0 });
      }
    };
    for (const k of files.keys()) add(k, true);
    for (const k of dirs) if (k !== key) add(k, false);
    return [...out.values()];
  }

  async mkdir(dir: string): Promise<void> {
    const key = keyOf(dir);
    if (key) await this.kv.put({ [`d:${key}`]: true });
  }

  async remove(path: string, opts: { recursive?: boolean } = {}): Promise<void> {
    const key = keyOf(path), m = await this.kv.get<Meta>(fileKey(key));
    if (m) {
      await this.kv.delete([fileKey(key)]);
      for (const b of batches(chunkKeys(m))) await this.kv.delete(b);
      return;
    }
    const files = await this.#files(key), dirs = await this.#dirs(key);
    if (key === "" || (!files.size && !dirs.length)) throw new NotFoundError(path);
    if ((files.size || dirs.some((d) => d !== key)) && !opts.recursive) {
      throw new Error(`directory not empty: '${path}'`);
    }
    for (const b of batches([...files.keys()].map(fileKey))) await this.kv.delete(b);
    for (const b of batches(dirs.map((d) => `d:${d}`))) await this.kv.delete(b);
    for (const b of batches([...files.values()].flatMap(chunkKeys))) await this.kv.delete(b);
  }

  async rename(from: string, to: string): Promise<void> {
    const a = keyOf(from), b = keyOf(to), m = await this.kv.get<Meta>(fileKey(a));
    const replaced = await this.kv.get<Meta>(fileKey(b));
    if (m) {
      // no await between the two: Durable Object writes coalesce into one atomic batch
      const put = this.kv.put({ [fileKey(b)]: m }), del = this.kv.delete([fileKey(a)]);
      await Promise.all([put, del]);
      if (replaced) { for (const c of batches(chunkKeys(replaced))) await this.kv.delete(c); }
      return;
    }
    const files = await this.#files(a), dirs = await this.#dirs(a);
    if (!files.size && !dirs.length) throw new NotFoundError(from);
    if (replaced || (await this.#files(b)).size) throw new Error(`rename: '${to}' exists`);
    const moved = [...files].map(([k, v]) => [fileKey(b + k.slice(a.length)), v] as [string, unknown]);
    const marks = dirs.map((d) => [`d:${b}${d.slice(a.length)}`, true] as [string, unknown]);
    const writes = [
      ...batches([...moved, ...marks]).map((e) => this.kv.put(Object.fromEntries(e))),
      ...batches([...[...files.keys()].map(fileKey), ...dirs.map((d) => `d:${d}`)]).map((k) =>
        this.kv.delete(k)
      ),
    ];
    await Promise.all(writes);
  }

  async copy(from: string, to: string): Promise<void> {
    await this.write(to, await this.read(from));
  }

  async realPath(path: string): Promise<string> {
    if (!(await this.stat(path))) throw new NotFoundError(path);
    return "/" + keyOf(join(path));
  }
}
