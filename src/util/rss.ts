/** @module Peak resident set size of this process (VmHWM on Linux, else current RSS). */

/** Peak RSS in MB, measured (not estimated). */
export function peakRssMb(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return Deno.memoryUsage().rss / 2 ** 20;
}
