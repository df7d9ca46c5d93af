/**
 * @module A server's hold on its data dir. {@link lockDataDir} takes an OS lock on
 * `<dir>/posttrain.lock` (released by the OS when the process ends, even on SIGKILL), so a second
 * server on the same dir fails before it resumes or changes any job; {@link sweepTemps} then removes
 * what killed writes left (every write goes through a `….tmp-xxxxxxxx` sibling and a rename: output
 * dirs, checkpoint slots, files), which only the holder of the lock may do.
 */
import { join } from "../io/path.ts";

/** The name of a temp sibling of an atomic write (`out.tmp-1a2b3c4d`, `.ckpt-a.tmp-…`). */
const TEMP_RE = /\.tmp-[0-9a-f]{8}$/;

/** A held data dir; {@link DataDirLock.release} (or the process ending) lets it go. */
export interface DataDirLock {
  readonly path: string;
  release(): void;
}

/**
 * Lock `dir` for this process; throws a clear error naming the holder when another process has it.
 *
 * @example
 * ```ts ignore
 * const lock = await lockDataDir("./.posttrain"); // Error: data dir ./.posttrain is in use by …
 * lock.release();
 * ```
 */
export async function lockDataDir(dir: string, holder: Record<string, unknown> = {}): Promise<DataDirLock> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, "posttrain.lock");
  const file = await Deno.open(path, { read: true, write: true, create: true });
  if (!(await file.tryLock(true))) {
    file.close();
    let who = "another process";
    try {
      const h = JSON.parse(await Deno.readTextFile(path));
      who = `another posttrain server (pid ${h.pid}${h.port ? `, port ${h.port}` : ""}, since ${h.since})`;
    } catch { /* written by an older version, or mid-write */ }
    throw new Error(
      `data dir ${dir} is in use by ${who}; stop it or give this server its own POSTTRAIN_DATA_DIR`,
    );
  }
  await file.truncate(0);
  await file.write(
    new TextEncoder().encode(JSON.stringify({ pid: Deno.pid, since: new Date().toISOString(), ...holder })),
  );
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      file.close(); // closing drops the lock
    },
  };
}

/**
 * Remove the temp siblings killed writes left under `<dir>/jobs` (call while holding the lock, before
 * any job runs). Returns the paths removed.
 *
 * @example
 * ```ts ignore
 * await sweepTemps("./.posttrain"); // ["./.posttrain/jobs/job_…/out.tmp-1a2b3c4d", …]
 * ```
 */
export async function sweepTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  const walk = async (d: string, depth: number) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch {
      return; // missing, or not a dir
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (TEMP_RE.test(e.name)) {
        await Deno.remove(p, { recursive: true }).catch(() => {});
        removed.push(p);
      } else if (e.isDirectory && depth > 0) await walk(p, depth - 1);
    }
  };
  // jobs/<id>/{out,ckpt-a,ckpt-b}/<files>: three levels below jobs/
  await walk(join(dir, "jobs"), 3);
  return removed;
}
