/**
 * @module The file-system {@link FsStorage} (Deno's file API): the storage the library uses by default
 * in Deno (see `storage.ts`). One of the few library files that may name `Deno`. Writes go through a
 * temp sibling and a rename, so a file is either the old one or the new one, never half of one.
 */
import { basename, dirname, join } from "./path.ts";

/**
 * Files on the local file system, relative paths against the working directory.
 *
 * @example
 * ```ts ignore
 * const fs = new FsStorage();
 * const bytes = await fs.read("models/default/config.json");
 * ```
 */
export class FsStorage {
  /** Name shown in messages. */
  readonly kind = "fs";

  /** The whole file. */
  async read(path: string): Promise<Uint8Array> {
    return await Deno.readFile(path);
  }

  /** A file opened for reads at any offset; close it when done. */
  async open(
    path: string,
  ): Promise<{ size: number; read(pos: number, dst: Uint8Array): Promise<Uint8Array>; close(): void }> {
    const file = await Deno.open(path, { read: true });
    try {
      const size = (await file.stat()).size;
      return {
        size,
        read: async (pos, dst) => {
          await file.seek(pos, Deno.SeekMode.Start);
          let got = 0;
          while (got < dst.length) {
            const n = await file.read(dst.subarray(got));
            if (n === null) throw new Error(`${path}: unexpected end of file`);
            got += n;
          }
          return dst;
        },
        close: () => file.close(),
      };
    } catch (e) {
      file.close();
      throw e;
    }
  }

  /** Write a file atomically (temp sibling, then rename), creating its parent dirs. */
  async write(path: string, data: Uint8Array | string): Promise<void> {
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

  /** Size, kind and modification time; undefined when nothing is there. */
  async stat(
    path: string,
  ): Promise<{ isFile: boolean; isDirectory: boolean; size: number; mtimeMs?: number } | undefined> {
    try {
      const s = await Deno.stat(path);
      return { isFile: s.isFile, isDirectory: s.isDirectory, size: s.size, mtimeMs: s.mtime?.getTime() };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  /** The entries of a directory (a missing one throws `NotFound`). */
  async list(dir: string): Promise<{ name: string; isFile: boolean; isDirectory: boolean }[]> {
    const out = [];
    for await (const e of Deno.readDir(dir)) {
      out.push({ name: e.name, isFile: e.isFile, isDirectory: e.isDirectory });
    }
    return out;
  }

  /** Create a directory and its parents. */
  async mkdir(dir: string): Promise<void> {
    await Deno.mkdir(dir, { recursive: true });
  }

  /** Remove a file, or a directory with `recursive` (a missing path throws `NotFound`). */
  async remove(path: string, opts: { recursive?: boolean } = {}): Promise<void> {
    await Deno.remove(path, opts);
  }

  /** Move a file or directory (replacing a file at `to`). */
  async rename(from: string, to: string): Promise<void> {
    await Deno.rename(from, to);
  }

  /** Copy a file. */
  async copy(from: string, to: string): Promise<void> {
    await Deno.copyFile(from, to);
  }

  /** The canonical absolute path (symlinks resolved); throws `NotFound` when missing. */
  async realPath(path: string): Promise<string> {
    return await Deno.realPath(path);
  }
}
