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
import { join } from "../io/path.ts";
import { isNotFound, readStream, readText, storage } from "../io/storage.ts";
import type { ArtifactInfo } from "./store.ts";

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Write `data` to `path` atomically (see `Storage.write`: a temp sibling and a rename on a file system).
 *
 * @example
 * ```ts ignore
 * await writeFileAtomic("./out/result.json", new TextEncoder().encode("{}"));
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await storage().write(path, data);
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of await readStream(path)) h.update(chunk);
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
    return JSON.parse(await readText(join(this.jobDir(id), "request.json"))) as T;
  }

  /** Name, size and sha256 of every file in the job's output dir (sorted by name). */
  async describe(id: string): Promise<ArtifactInfo[]> {
    const dir = this.outDir(id);
    const out: ArtifactInfo[] = [];
    for (const e of await storage().list(dir)) {
      if (!e.isFile || !NAME_RE.test(e.name)) continue;
      const path = join(dir, e.name);
      out.push({ name: e.name, size: (await storage().stat(path))!.size, sha256: await sha256File(path) });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** An artifact as a stream, or undefined when there is no such plain file. */
  async open(
    id: string,
    name: string,
  ): Promise<{ body: ReadableStream<Uint8Array>; size: number } | undefined> {
    if (!NAME_RE.test(name)) return undefined;
    const path = join(this.outDir(id), name);
    try {
      const st = await storage().stat(path);
      if (!st?.isFile) return undefined;
      return { body: await readStream(path), size: st.size };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Drop the job's checkpoints (after it ends). */
  async removeCheckpoints(id: string): Promise<void> {
    for (const slot of ["a", "b"]) {
      await storage().remove(this.checkpointDir(id, slot), { recursive: true }).catch(() => {});
    }
  }

  /** Drop the job's output dir (a job that failed or was canceled keeps nothing). */
  async removeOutput(id: string): Promise<void> {
    await storage().remove(this.outDir(id), { recursive: true }).catch(() => {});
  }

  /** Drop everything of the job (its request, checkpoints and artifacts). */
  async removeJob(id: string): Promise<void> {
    await storage().remove(this.jobDir(id), { recursive: true }).catch(() => {});
  }

  /** Bytes and files under `<root>/jobs` (every job's request, checkpoints and artifacts). */
  async diskUsage(): Promise<{ bytes: number; files: number }> {
    let bytes = 0, files = 0;
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await storage().list(dir);
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory) await walk(p);
        else if (e.isFile) {
          const st = await storage().stat(p).catch(() => undefined);
          if (st) (bytes += st.size, files++);
        }
      }
    };
    await walk(join(this.root, "jobs"));
    return { bytes, files };
  }
}
