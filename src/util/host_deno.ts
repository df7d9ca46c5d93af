/**
 * @module The Deno host (see `host.ts`): environment variables, peak RSS (VmHWM on Linux, else the
 * current RSS), the working directory and the module's own files. One of the few library files that may name `Deno`.
 */

/**
 * Deno's environment, peak RSS and working directory.
 *
 * @example
 * ```ts
 * denoHost.peakRssMb(); // e.g. 61.2
 * ```
 */
export const denoHost = {
  env(name: string): string | undefined {
    try {
      return Deno.env.get(name);
    } catch {
      return undefined; // no --allow-env
    }
  },
  peakRssMb(): number {
    try {
      const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
      if (m) return Number(m[1]) / 1024;
    } catch { /* not Linux */ }
    return Deno.memoryUsage().rss / 2 ** 20;
  },
  cwd(): string {
    return Deno.cwd();
  },
  /** file: URLs from the disk (Deno's fetch would cost ≈ 4 MB of resident memory), others by fetch. */
  async readModuleFile(url: URL): Promise<Uint8Array<ArrayBuffer>> {
    if (url.protocol === "file:") return await Deno.readFile(url);
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`);
    return new Uint8Array(await res.arrayBuffer());
  },
};
