/**
 * @module Where the library reads and writes files: one small {@link Storage} interface, so model
 * dirs, data files, checkpoints, adapters and job artifacts work the same on a file system (Deno:
 * `fs_storage.ts`), from bundled bytes ({@link MemoryStorage}), over HTTP ({@link UrlStorage}), in a
 * Workers binding (Durable Object storage: `src/edge/do_storage.ts`), or several of them mounted at
 * path prefixes ({@link MountStorage}). The library goes through {@link storage}: the file system when
 * the `Deno` global exists, else an empty in-memory storage until the entry point calls
 * {@link setStorage}. Paths use `/`; relative ones are relative to the storage's root.
 */
import { FsStorage } from "./fs_storage.ts";
import { join } from "./path.ts";

/** What {@link Storage.stat} tells about a path. */
export interface FileInfo {
  isFile: boolean;
  isDirectory: boolean;
  /** Bytes (files). */
  size: number;
  /** Last modification, ms since the epoch, where the storage keeps it. */
  mtimeMs?: number;
}

/** One entry of {@link Storage.list}. */
export interface DirEntry {
  name: string;
  isFile: boolean;
  isDirectory: boolean;
}

/** A file open for reads at any offset. */
export interface RandomAccessFile {
  readonly size: number;
  /** Fill `dst` with the bytes at `pos`… (throws past the end). */
  read(pos: number, dst: Uint8Array): Promise<Uint8Array>;
  close(): void;
}

/** Files and directories, wherever they live. Missing paths throw a {@link NotFoundError} (or Deno's). */
export interface Storage {
  /** Name shown in messages (`fs`, `memory`, `url`, `durable-object`, `mount`). */
  readonly kind: string;
  /** The whole file. */
  read(path: string): Promise<Uint8Array>;
  /** A file opened for reads at any offset; close it when done. */
  open(path: string): Promise<RandomAccessFile>;
  /** Write a file atomically (readers see the old file or the new one), creating parent dirs. */
  write(path: string, data: Uint8Array | string): Promise<void>;
  /** Undefined when nothing is at `path`. */
  stat(path: string): Promise<FileInfo | undefined>;
  /** The entries of a directory. */
  list(dir: string): Promise<DirEntry[]>;
  /** Create a directory and its parents (a no-op where directories are implied). */
  mkdir(dir: string): Promise<void>;
  /** Remove a file, or a directory with `recursive`. */
  remove(path: string, opts?: { recursive?: boolean }): Promise<void>;
  /** Move a file or directory (a file at `to` is replaced). */
  rename(from: string, to: string): Promise<void>;
  /** Copy a file. */
  copy(from: string, to: string): Promise<void>;
  /** The canonical absolute path (symlinks resolved where there are any). */
  realPath(path: string): Promise<string>;
}

/** A missing file or directory (same `name` as Deno's `Deno.errors.NotFound`). */
export class NotFoundError extends Error {
  override name = "NotFound";
  readonly code = "ENOENT";
  constructor(path: string, what = "no such file or directory") {
    super(`${what}: '${path}'`);
  }
}

/**
 * Whether `e` says a path is missing (from any storage, Deno's own errors included).
 *
 * @example
 * ```ts
 * isNotFound(new NotFoundError("x")); // true
 * ```
 */
export function isNotFound(e: unknown): boolean {
  return e instanceof Error && (e.name === "NotFound" || (e as { code?: string }).code === "ENOENT");
}

/** A path as a key: normalized, relative (`/a/./b` and `a/b` are one file); the root is "". */
export function keyOf(path: string): string {
  const k = join(path).replace(/^\/+/, "");
  return k === "." ? "" : k;
}

const under = (key: string, dir: string) => dir === "" || key.startsWith(dir + "/");
const text = (data: Uint8Array | string) => typeof data === "string" ? new TextEncoder().encode(data) : data;

/**
 * Files held in memory: bundled bytes (a Worker's built-in model), a browser tab's outputs, tests.
 * Directories exist while a file is under them or after {@link MemoryStorage.mkdir}.
 *
 * @example
 * ```ts
 * const s = new MemoryStorage({ "models/tiny/config.json": '{"model_type":"gpt2"}' });
 * new TextDecoder().decode(await s.read("/models/tiny/config.json"));
 * ```
 */
export class MemoryStorage implements Storage {
  readonly kind = "memory";
  readonly #files = new Map<string, { data: Uint8Array; mtimeMs: number }>();
  readonly #dirs = new Set<string>();

  constructor(files: Record<string, Uint8Array | string> = {}) {
    for (const [p, d] of Object.entries(files)) {
      this.#files.set(keyOf(p), { data: text(d), mtimeMs: Date.now() });
    }
  }

  #file(path: string) {
    const f = this.#files.get(keyOf(path));
    if (!f) throw new NotFoundError(path);
    return f;
  }

  #isDir(key: string): boolean {
    if (key === "" || this.#dirs.has(key)) return true;
    for (const k of this.#files.keys()) if (under(k, key)) return true;
    for (const k of this.#dirs) if (under(k, key)) return true;
    return false;
  }

  read(path: string): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.#file(path).data);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async open(path: string): Promise<RandomAccessFile> {
    return bytesFile(path, await this.read(path));
  }

  write(path: string, data: Uint8Array | string): Promise<void> {
    // a copy: the caller may reuse its buffer (a device view, a scratch array)
    this.#files.set(keyOf(path), { data: text(data).slice(), mtimeMs: Date.now() });
    return Promise.resolve();
  }

  stat(path: string): Promise<FileInfo | undefined> {
    const key = keyOf(path), f = this.#files.get(key);
    if (f) {
      return Promise.resolve({ isFile: true, isDirectory: false, size: f.data.length, mtimeMs: f.mtimeMs });
    }
    return Promise.resolve(this.#isDir(key) ? { isFile: false, isDirectory: true, size: 0 } : undefined);
  }

  list(dir: string): Promise<DirEntry[]> {
    const key = keyOf(dir);
    if (!this.#isDir(key)) return Promise.reject(new NotFoundError(dir));
    const out = new Map<string, DirEntry>();
    const add = (k: string, isFile: boolean) => {
      if (!under(k, key)) return;
      const rest = k.slice(key === "" ? 0 : key.length + 1), i = rest.indexOf("/");
      const name = i < 0 ? rest : rest.slice(0, i);
      if (name && !out.has(name)) {
        out.set(name, { name, isFile: isFile && i < 0, isDirectory: !isFile || i >= 0 });
      }
    };
    for (const k of this.#files.keys()) add(k, true);
    for (const k of this.#dirs) add(k, false);
    return Promise.resolve([...out.values()]);
  }

  mkdir(dir: string): Promise<void> {
    const key = keyOf(dir);
    if (key) this.#dirs.add(key);
    return Promise.resolve();
  }

  remove(path: string, opts: { recursive?: boolean } = {}): Promise<void> {
    const key = keyOf(path);
    if (this.#files.delete(key)) return Promise.resolve();
    if (!this.#isDir(key) || key === "") return Promise.reject(new NotFoundError(path));
    const inside = [...this.#files.keys(), ...this.#dirs].filter((k) => under(k, key));
    if (inside.length && !opts.recursive) return Promise.reject(new Error(`directory not empty: '${path}'`));
    for (const k of inside) this.#files.delete(k) || this.#dirs.delete(k);
    this.#dirs.delete(key);
    return Promise.resolve();
  }

  rename(from: string, to: string): Promise<void> {
    const a = keyOf(from), b = keyOf(to), f = this.#files.get(a);
    if (f) {
      this.#files.delete(a);
      this.#files.set(b, f);
      return Promise.resolve();
    }
    if (!this.#isDir(a)) return Promise.reject(new NotFoundError(from));
    if (this.#files.has(b) || [...this.#files.keys()].some((k) => under(k, b))) {
      return Promise.reject(new Error(`rename: '${to}' exists`));
    }
    for (const [k, v] of [...this.#files]) {
      if (under(k, a)) (this.#files.delete(k), this.#files.set(b + k.slice(a.length), v));
    }
    for (const k of [...this.#dirs]) {
      if (k === a || under(k, a)) (this.#dirs.delete(k), this.#dirs.add(b + k.slice(a.length)));
    }
    return Promise.resolve();
  }

  copy(from: string, to: string): Promise<void> {
    try {
      this.#files.set(keyOf(to), { data: this.#file(from).data.slice(), mtimeMs: Date.now() });
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async realPath(path: string): Promise<string> {
    if (!(await this.stat(path))) throw new NotFoundError(path);
    return "/" + keyOf(path);
  }
}

/**
 * Bytes in memory as a {@link RandomAccessFile}.
 *
 * @example
 * ```ts
 * const f = bytesFile("x", new Uint8Array([1, 2, 3]));
 * await f.read(1, new Uint8Array(2)); // [2, 3]
 * ```
 */
export function bytesFile(path: string, bytes: Uint8Array): RandomAccessFile {
  return {
    size: bytes.length,
    read: (pos, dst) => {
      if (pos + dst.length > bytes.length) {
        return Promise.reject(new Error(`${path}: unexpected end of file`));
      }
      dst.set(bytes.subarray(pos, pos + dst.length));
      return Promise.resolve(dst);
    },
    close: () => {},
  };
}

/**
 * Read-only files over HTTP under a base URL (`fetch`): a browser tab reading the built-in model from
 * the server, a Worker reading one from a public bucket.
 *
 * @example
 * ```ts ignore
 * const s = new UrlStorage("https://example.com/playground/model/");
 * const config = await s.read("config.json");
 * ```
 */
export class UrlStorage implements Storage {
  readonly kind = "url";
  readonly #base: URL;

  /**
   * `ranges`: {@link UrlStorage.open} reads by HTTP range requests (a tensor at a time) instead of fetching
   * the file whole once. Off by default: for the 23 MB default model a Chromium tab peaked 32 MB higher
   * reading by ranges than reading the file whole (measured); for a model too large to fetch whole, turn it on.
   */
  constructor(
    base: string | URL,
    readonly fetcher: typeof fetch = (i, o) => fetch(i, o),
    readonly opts: { ranges?: boolean } = {},
  ) {
    this.#base = new URL(base, (globalThis as { location?: { href: string } }).location?.href);
  }

  #url(path: string): URL {
    return new URL(keyOf(path), this.#base);
  }

  async read(path: string): Promise<Uint8Array> {
    const res = await this.fetcher(this.#url(path));
    if (res.status === 404) throw new NotFoundError(path);
    if (!res.ok) throw new Error(`${path}: GET ${this.#url(path)} answered ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /**
   * The file whole, or with `ranges` by HTTP range requests (a model's tensors one at a time, never the
   * whole file in memory; a server that ignores ranges answers 200, and the file is then read whole once).
   */
  async open(path: string): Promise<RandomAccessFile> {
    if (!this.opts.ranges) return bytesFile(path, await this.read(path));
    const info = await this.stat(path);
    if (!info) throw new NotFoundError(path);
    let whole: Promise<RandomAccessFile> | undefined;
    return {
      size: info.size,
      read: async (pos, dst) => {
        if (whole) return await (await whole).read(pos, dst);
        if (pos + dst.length > info.size) throw new Error(`${path}: unexpected end of file`);
        if (dst.length === 0) return dst;
        const range = `bytes=${pos}-${pos + dst.length - 1}`;
        const res = await this.fetcher(this.#url(path), { headers: { range } });
        if (res.status === 200) {
          await res.body?.cancel();
          whole = this.read(path).then((b) => bytesFile(path, b));
          return await (await whole).read(pos, dst);
        }
        if (res.status !== 206) throw new Error(`${path}: GET ${range} answered ${res.status}`);
        const got = new Uint8Array(await res.arrayBuffer());
        if (got.length !== dst.length) throw new Error(`${path}: ${range} gave ${got.length} bytes`);
        dst.set(got);
        return dst;
      },
      close: () => {},
    };
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    const res = await this.fetcher(this.#url(path), { method: "HEAD" });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`${path}: HEAD ${this.#url(path)} answered ${res.status}`);
    return { isFile: true, isDirectory: false, size: Number(res.headers.get("content-length") ?? 0) };
  }

  #readOnly(op: string, path: string): Promise<never> {
    return Promise.reject(new Error(`${op} ${path}: ${this.#base} is read-only`));
  }
  write(path: string, _data?: Uint8Array | string): Promise<void> {
    return this.#readOnly("write", path);
  }
  list(dir: string): Promise<DirEntry[]> {
    return Promise.reject(new Error(`list ${dir}: a URL storage cannot list directories`));
  }
  mkdir(dir: string): Promise<void> {
    return this.#readOnly("mkdir", dir);
  }
  remove(path: string, _opts?: { recursive?: boolean }): Promise<void> {
    return this.#readOnly("remove", path);
  }
  rename(from: string, _to?: string): Promise<void> {
    return this.#readOnly("rename", from);
  }
  copy(_from: string, to: string): Promise<void> {
    return this.#readOnly("copy", to);
  }
  realPath(path: string): Promise<string> {
    return Promise.resolve("/" + keyOf(path));
  }
}

/**
 * Several storages under path prefixes (the longest matching prefix wins; "" is the rest), each seeing
 * paths relative to its prefix: e.g. a Worker's bundled model at `models/default` and Durable Object
 * storage for everything else.
 *
 * @example
 * ```ts
 * const s = new MountStorage({ "models/default": new MemoryStorage({ "config.json": "{}" }), "": new MemoryStorage() });
 * await s.read("models/default/config.json");
 * ```
 */
export class MountStorage implements Storage {
  readonly kind = "mount";
  readonly #mounts: [string, Storage][];

  constructor(mounts: Record<string, Storage>) {
    this.#mounts = Object.entries(mounts).map(([p, s]) => [keyOf(p), s] as [string, Storage])
      .sort((a, b) => b[0].length - a[0].length);
  }

  #at(path: string): [Storage, string, string] {
    const key = keyOf(path);
    for (const [p, s] of this.#mounts) {
      if (key === p || under(key, p)) return [s, p, p === "" ? key : key.slice(p.length + 1)];
    }
    throw new NotFoundError(path, "no storage mounted for");
  }

  read(path: string): Promise<Uint8Array> {
    const [s, , rel] = this.#at(path);
    return s.read(rel);
  }
  open(path: string): Promise<RandomAccessFile> {
    const [s, , rel] = this.#at(path);
    return s.open(rel);
  }
  write(path: string, data: Uint8Array | string): Promise<void> {
    const [s, , rel] = this.#at(path);
    return s.write(rel, data);
  }
  stat(path: string): Promise<FileInfo | undefined> {
    const [s, , rel] = this.#at(path);
    return s.stat(rel);
  }
  list(dir: string): Promise<DirEntry[]> {
    const [s, , rel] = this.#at(dir);
    return s.list(rel);
  }
  mkdir(dir: string): Promise<void> {
    const [s, , rel] = this.#at(dir);
    return s.mkdir(rel);
  }
  remove(path: string, opts?: { recursive?: boolean }): Promise<void> {
    const [s, , rel] = this.#at(path);
    return s.remove(rel, opts);
  }
  rename(from: string, to: string): Promise<void> {
    const [s, , a] = this.#at(from), [t, , b] = this.#at(to);
    if (s !== t) return Promise.reject(new Error(`rename ${from} → ${to}: across storages`));
    return s.rename(a, b);
  }
  async copy(from: string, to: string): Promise<void> {
    const [s, , a] = this.#at(from), [t, , b] = this.#at(to);
    if (s === t) return await s.copy(a, b);
    await t.write(b, await s.read(a));
  }
  async realPath(path: string): Promise<string> {
    const [s, p, rel] = this.#at(path);
    return "/" + keyOf(join(p, await s.realPath(rel)));
  }
}

let current: Storage = "Deno" in globalThis ? new FsStorage() : new MemoryStorage();

/**
 * The storage the library reads and writes through.
 *
 * @example
 * ```ts
 * const info = await storage().stat("models/default/config.json");
 * ```
 */
export function storage(): Storage {
  return current;
}

/**
 * Use another storage from now on (a Worker's bundled model + Durable Object storage, a tab's memory);
 * returns the one replaced.
 *
 * @example
 * ```ts
 * const previous = setStorage(new MemoryStorage({ "rows.jsonl": '{"text":"hi"}\n' }));
 * setStorage(previous);
 * ```
 */
export function setStorage(s: Storage): Storage {
  const previous = current;
  current = s;
  return previous;
}

/**
 * A file as UTF-8 text.
 *
 * @example
 * ```ts ignore
 * const config = JSON.parse(await readText("models/default/config.json"));
 * ```
 */
export async function readText(path: string): Promise<string> {
  return new TextDecoder().decode(await current.read(path));
}

/**
 * Whether anything is at `path`.
 *
 * @example
 * ```ts ignore
 * await exists("models/default/tokenizer.json"); // true
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  return (await current.stat(path)) !== undefined;
}

/**
 * A file as a stream of chunks (for HTTP downloads), read as it is consumed.
 *
 * @example
 * ```ts ignore
 * return new Response(await readStream(".posttrain/jobs/x/out/adapter_model.safetensors"));
 * ```
 */
export async function readStream(path: string, chunkBytes = 1 << 20): Promise<ReadableStream<Uint8Array>> {
  const f = await current.open(path);
  let pos = 0;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (pos >= f.size) return (f.close(), c.close());
      const n = Math.min(chunkBytes, f.size - pos);
      c.enqueue(await f.read(pos, new Uint8Array(n)));
      pos += n;
    },
    cancel: () => f.close(),
  });
}
