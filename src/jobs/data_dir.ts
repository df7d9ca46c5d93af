/**
 * @module A server's place in its data dir, which several server processes may share (their jobs
 * coordinate through leases in the job store, `lease.ts`). {@link registerInstance} takes an OS lock
 * on `<dir>/instances/<id>.lock` (released by the OS when the process ends, even on SIGKILL), so the
 * others can tell a dead holder from a slow one ({@link instanceGone}) and take its jobs at once instead
 * of waiting for its leases to expire. {@link sweepTemps} removes what killed writes left (every write
 * goes through a `….tmp-xxxxxxxx` sibling and a rename: output dirs, checkpoint slots, files); it runs
 * at start when no other instance is alive, and per job when a job is taken over.
 */
import { join } from "../io/path.ts";
import { newInstanceId } from "./lease.ts";

/** The name of a temp sibling of an atomic write (`out.tmp-1a2b3c4d`, `.ckpt-a.tmp-…`). */
const TEMP_RE = /\.tmp-[0-9a-f]{8}$/;
const INSTANCE_RE = /^[A-Za-z0-9_.-]{1,64}$/;
/** Lock files of instances found dead (ids are random: one never comes back). */
const GONE = new Set<string>();

/** This process's registration in a data dir; {@link Instance.release} (or the process ending) ends it. */
export interface Instance {
  /** The holder name of this process's leases. */
  readonly id: string;
  readonly path: string;
  /** Other instances alive in the dir now (their lock is held). */
  others(): Promise<string[]>;
  release(): void;
}

/**
 * Register this process in `dir` (under a new id, or `id`), holding an OS lock on its file while it runs.
 *
 * @example
 * ```ts ignore
 * const me = await registerInstance("./.posttrain", { port: 8000 });
 * me.id; // "host-4242-9f2c41d7": the holder of this process's leases
 * me.release();
 * ```
 */
export async function registerInstance(
  dir: string,
  info: Record<string, unknown> = {},
  id: string = newInstanceId(`${Deno.hostname()}-${Deno.pid}`),
): Promise<Instance> {
  if (!INSTANCE_RE.test(id)) throw new Error(`invalid instance id ${JSON.stringify(id)}`);
  const instances = join(dir, "instances");
  await Deno.mkdir(instances, { recursive: true });
  const path = join(instances, `${id}.lock`);
  const file = await Deno.open(path, { read: true, write: true, create: true });
  if (!(await file.tryLock(true))) {
    file.close();
    throw new Error(`instance ${id} is already running in ${dir}`);
  }
  await file.write(
    new TextEncoder().encode(JSON.stringify({ pid: Deno.pid, since: new Date().toISOString(), ...info })),
  );
  let held = true;
  return {
    id,
    path,
    async others() {
      const alive: string[] = [];
      for await (const e of Deno.readDir(instances)) {
        const other = e.name.replace(/\.lock$/, "");
        if (other === id || !e.name.endsWith(".lock")) continue;
        if (!(await instanceGone(dir, other))) alive.push(other);
      }
      return alive;
    },
    release() {
      if (!held) return;
      held = false;
      file.close(); // closing drops the lock
      try {
        Deno.removeSync(path);
      } catch { /* already gone */ }
    },
  };
}

/**
 * Whether the instance `id` registered in `dir` has ended (its lock file is there and nobody holds
 * its lock; the file is then removed). False when it runs, or is unknown here (another machine: its
 * leases expire instead).
 *
 * @example
 * ```ts ignore
 * if (await instanceGone("./.posttrain", job.lease.holder)) { ... } // take its job now
 * ```
 */
export async function instanceGone(dir: string, id: string): Promise<boolean> {
  if (!INSTANCE_RE.test(id)) return false;
  const path = join(dir, "instances", `${id}.lock`);
  if (GONE.has(path)) return true;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true });
  } catch {
    return false;
  }
  try {
    if (!(await file.tryLock(true))) return false;
    GONE.add(path); // its file goes now: remember the answer
    await Deno.remove(path).catch(() => {});
    return true;
  } finally {
    file.close();
  }
}

/**
 * Remove the temp siblings killed writes left under `<dir>/jobs` (or only under job `id`'s dir); call
 * it when no other instance is alive (or for a job this instance just took over). Returns the paths removed.
 *
 * @example
 * ```ts ignore
 * await sweepTemps("./.posttrain"); // ["./.posttrain/jobs/job_…/out.tmp-1a2b3c4d", …]
 * ```
 */
export async function sweepTemps(dir: string, id?: string): Promise<string[]> {
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
  if (id === undefined) await walk(join(dir, "jobs"), 3);
  else if (INSTANCE_RE.test(id)) await walk(join(dir, "jobs", id), 2);
  return removed;
}
