/**
 * @module The file side of jobs, under one configurable root: each job's request (its rows can
 * be megabytes, far past a KV value), its two alternating checkpoint slots, and its output dir.
 * Every write is atomic (a temp sibling, then rename), so a crash leaves either the old file or
 * the new one, never half of one; artifact metadata (name, size, sha256) goes into the job record.
 *
 * ```
 * <root>/jobs/<id>/request.json    the validated request
 * <root>/jobs/<id>/ckpt-a|ckpt-b   checkpoints; the record names the complete one
 * <root>/jobs/<id>/out/            artifacts (an HF model dir for fine-tunes)
 * ```
 */
import { createHash } from "node:crypto";
import { basename, dirname, join } from "../io/path.ts";
import type { ArtifactInfo } from "./store.ts";

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Write `data` to `path` through a temp sibling and a rename.
 *
 * @example
 * ```ts ignore
 * await writeFileAtomic("./out/result.json", new TextEncoder().encode("{}"));
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${crypto.randomUUID().slice(0, 8)}`);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  using f = await Deno.open(path);
  for await (const chunk of f.readable) h.update(chunk);
  return h.digest("hex");
}

/**
 * Job files under `root`.
 *
 * @example
 * ```ts ignore
 * const files = new ArtifactStore("./data");
 * await files.writeRequest(id, request);
 * const list = await files.describe(id); // [{ name: "model.safetensors", size, sha256 }, …]
 * ```
 */
export class ArtifactStore {
  constructor(readonly root: string) {}

  /** The job's directory (the id is checked, so it cannot leave the root). */
  jobDir(id: string): string {
    if (!ID_RE.test(id)) throw new Error(`invalid job id ${JSON.stringify(id)}`);
    return join(this.root, "jobs", id);
  }

  /** The job's output dir (its artifacts). */
  outDir(id: string): string {
    return join(this.jobDir(id), "out");
  }

  /** A checkpoint slot of the job. */
  checkpointDir(id: string, slot: string): string {
    if (slot !== "a" && slot !== "b") throw new Error(`invalid checkpoint slot ${slot}`);
    return join(this.jobDir(id), `ckpt-${slot}`);
  }

  /** Store the validated request. */
  async writeRequest(id: string, request: unknown): Promise<void> {
    await writeFileAtomic(join(this.jobDir(id), "request.json"), JSON.stringify(request));
  }

  /** Read the stored request. */
  async readRequest<T>(id: string): Promise<T> {
    return JSON.parse(await Deno.readTextFile(join(this.jobDir(id), "request.json"))) as T;
  }

  /** Name, size and sha256 of every file in the job's output dir (sorted by name). */
  async describe(id: string): Promise<ArtifactInfo[]> {
    const dir = this.outDir(id);
    const out: ArtifactInfo[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !NAME_RE.test(e.name)) continue;
      const path = join(dir, e.name);
      out.push({ name: e.name, size: (await Deno.stat(path)).size, sha256: await sha256File(path) });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Open an artifact for reading, or undefined when there is no such plain file. */
  async open(id: string, name: string): Promise<{ file: Deno.FsFile; size: number } | undefined> {
    if (!NAME_RE.test(name)) return undefined;
    const path = join(this.outDir(id), name);
    try {
      const st = await Deno.lstat(path);
      if (!st.isFile) return undefined;
      return { file: await Deno.open(path), size: st.size };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  /** Drop the job's checkpoints (after it ends). */
  async removeCheckpoints(id: string): Promise<void> {
    for (const slot of ["a", "b"]) {
      await Deno.remove(this.checkpointDir(id, slot), { recursive: true }).catch(() => {});
    }
  }

  /** Drop the job's output dir (a job that failed or was canceled keeps nothing). */
  async removeOutput(id: string): Promise<void> {
    await Deno.remove(this.outDir(id), { recursive: true }).catch(() => {});
  }
}
