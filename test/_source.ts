/** The project's own source files, for the tests that read the tree (layout, imports, runtime use). */
import { join, resolve } from "node:path";

/** The repository root. */
export const ROOT: string = resolve(new URL(".", import.meta.url).pathname, "..");

/** Every .ts file under `dir` (relative to the root, and returned so). */
export async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(ROOT, dir))) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await tsFiles(p));
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}
