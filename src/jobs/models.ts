/**
 * @module Which models the service may touch, and caches over them. A model reference resolves
 * only to a registered name (`default` → the built-in model) or to a directory under the
 * configured models root: absolute paths, `..` segments and symlinks that leave the root are
 * refused, so a request can never read an arbitrary directory. Tokenizers and loaded generators
 * are cached (small LRU) so repeated requests skip the load and the ONNX session build.
 */
import { join, resolve, sep } from "../io/path.ts";
import { readText, storage } from "../io/storage.ts";
import { type DecoderConfig, parseConfig } from "../models/config.ts";
import type { LoadedModel } from "../models/load.ts";
import { Generator } from "../models/generate.ts";
import { loadTokenizer, type Tok } from "../data/tokenize.ts";
import type { Row } from "../data/rows.ts";
import type { Example } from "../data/example.ts";
import type { Backend } from "../runtime/backend.ts";
import { encodeFor } from "../data/load.ts";
import { loadModelWithAdapters } from "../lora/with_adapters.ts";
import { PosttrainError, rowError } from "../errors.ts";

/** Options of {@link ModelRegistry}. */
export interface ModelRegistryOptions {
  /** Name → model dir (e.g. `default` → `models/default`). */
  models?: ReadonlyMap<string, string>;
  /** Dirs under this root are accepted by relative path (`my-org/my-model`). */
  root?: string;
}

const REF_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;

async function isFile(path: string): Promise<boolean> {
  try {
    return (await storage().stat(path))?.isFile ?? false;
  } catch {
    return false;
  }
}

/** A tiny LRU map. */
class Lru<V> {
  #m = new Map<string, V>();
  constructor(readonly size: number, readonly onEvict?: (v: V) => void) {}
  get(k: string): V | undefined {
    const v = this.#m.get(k);
    if (v !== undefined) {
      this.#m.delete(k);
      this.#m.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.#m.delete(k);
    this.#m.set(k, v);
    while (this.#m.size > this.size) {
      const [old, ov] = this.#m.entries().next().value!;
      this.#m.delete(old);
      this.onEvict?.(ov);
    }
  }
  clear(): void {
    for (const v of this.#m.values()) this.onEvict?.(v);
    this.#m.clear();
  }
}

interface GenEntry {
  model: LoadedModel;
  tok: Tok;
  gen: Generator;
  /** Serializes runs on the shared session. */
  lock: Promise<unknown>;
}

/**
 * Model references → directories, plus tokenizer and generator caches.
 *
 * @example
 * ```ts ignore
 * const models = new ModelRegistry({ models: new Map([["default", "models/default"]]), root: "/srv/models" });
 * await models.resolve("default"); // "models/default"
 * await models.resolve("../etc"); // throws PosttrainError 422 invalid_model_ref
 * ```
 */
export class ModelRegistry {
  readonly registered: ReadonlyMap<string, string>;
  readonly root?: string;
  #toks = new Lru<Promise<Tok>>(8);
  #gens = new Lru<Promise<GenEntry>>(
    2,
    (e) => e.then((g) => g.lock.then(() => g.gen.release())).catch(() => {}),
  );

  constructor(opts: ModelRegistryOptions = {}) {
    this.registered = opts.models ?? new Map();
    this.root = opts.root === undefined ? undefined : resolve(opts.root);
  }

  /** Registered models, then dirs directly under the root that hold a config.json. */
  async list(): Promise<{ id: string; path: string }[]> {
    const out = [...this.registered].map(([id, path]) => ({ id, path }));
    if (!this.root) return out;
    try {
      for (const e of await storage().list(this.root)) {
        if (e.isDirectory && REF_RE.test(e.name) && !this.registered.has(e.name)) {
          if (await isFile(join(this.root, e.name, "config.json"))) {
            out.push({ id: e.name, path: join(this.root, e.name) });
          }
        }
      }
    } catch { /* root missing: only registered models */ }
    return out;
  }

  /** The directory of a model reference; PosttrainError 404 / 422 naming `field` otherwise. */
  async resolve(ref: string, field = "model"): Promise<string> {
    const reg = this.registered.get(ref);
    if (reg !== undefined) {
      if (!(await isFile(join(reg, "config.json")))) {
        throw new PosttrainError(
          "model_not_found",
          `${field}: model ${ref} is registered but missing on disk`,
          field,
        );
      }
      return reg;
    }
    const known = [...this.registered.keys()].join(", ") || "none";
    if (!this.root) {
      throw new PosttrainError(
        "model_not_found",
        `${field}: unknown model ${JSON.stringify(ref)} (known: ${known})`,
        field,
      );
    }
    if (!REF_RE.test(ref) || ref.split("/").some((s) => s === "." || s === "..")) {
      throw new PosttrainError(
        "invalid_model_ref",
        `${field}: must be a registered model name or a relative dir under the models root (no '..', no absolute path)`,
        field,
      );
    }
    const dir = join(this.root, ref);
    let real: string, realRoot: string;
    try {
      [real, realRoot] = [await storage().realPath(dir), await storage().realPath(this.root)];
    } catch {
      throw new PosttrainError(
        "model_not_found",
        `${field}: unknown model ${JSON.stringify(ref)} (known: ${known})`,
        field,
      );
    }
    if (real !== realRoot && !real.startsWith(realRoot + sep)) {
      throw new PosttrainError("invalid_model_ref", `${field}: ${ref} leaves the models root`, field);
    }
    if (!(await isFile(join(real, "config.json")))) {
      throw new PosttrainError("model_not_found", `${field}: ${ref} has no config.json`, field);
    }
    return real;
  }

  /** The parsed config.json of a model dir. */
  async config(dir: string): Promise<DecoderConfig> {
    const path = join(dir, "config.json");
    return parseConfig(JSON.parse(await readText(path)), path);
  }

  /** The tokenizer of a model dir (cached), or undefined when it has none. */
  async tokenizer(dir: string): Promise<Tok | undefined> {
    if (!(await isFile(join(dir, "tokenizer.json")))) return undefined;
    let t = this.#toks.get(dir);
    if (!t) {
      t = loadTokenizer(dir);
      t.catch(() => this.#toks.clear());
      this.#toks.set(dir, t);
    }
    return await t;
  }

  /** Tokenize request rows for a model dir; row errors become 422s naming `field.N`. */
  async encode(dir: string, rows: Row[], truncate: boolean, field = "data"): Promise<Example[]> {
    const config = await this.config(dir);
    const hasTokenizer = await isFile(join(dir, "tokenizer.json"));
    const tok = rows.some((r) => !("input_ids" in r)) ? await this.tokenizer(dir) : undefined;
    try {
      return await encodeFor({ config, dir, hasTokenizer }, rows, truncate, tok);
    } catch (e) {
      throw rowError(e, field);
    }
  }

  /**
   * Run `fn` with a cached loaded model + tokenizer + generator for (dir, adapters, backend);
   * calls on one entry are serialized (one ONNX session).
   */
  async withGenerator<T>(
    dir: string,
    adapters: string[],
    backend: Backend,
    fn: (e: { model: LoadedModel; tok: Tok; gen: Generator }) => Promise<T>,
  ): Promise<T> {
    const key = JSON.stringify([dir, adapters, backend, await mtime(dir)]);
    let p = this.#gens.get(key);
    if (!p) {
      p = (async () => {
        const model = await loadModelWithAdapters(dir, adapters);
        if (!model.hasTokenizer) {
          throw new PosttrainError("no_tokenizer", "model: the model dir has no tokenizer.json", "model");
        }
        const tok = (await this.tokenizer(dir))!;
        return { model, tok, gen: new Generator(model.config, backend), lock: Promise.resolve() };
      })();
      this.#gens.set(key, p);
      p.catch(() => this.#gens.clear());
    }
    const e = await p;
    const run = e.lock.then(() => fn(e));
    e.lock = run.catch(() => {});
    return await run;
  }

  /** Release cached sessions. */
  close(): void {
    this.#gens.clear();
    this.#toks.clear();
  }
}

async function mtime(dir: string): Promise<number> {
  for (const f of ["model.safetensors", "model.safetensors.index.json"]) {
    const s = await storage().stat(join(dir, f)).catch(() => undefined);
    if (s) return s.mtimeMs ?? 0;
  }
  return 0;
}
