/**
 * @module One ES module of a library entry point (`deno bundle`, esbuild inside), for runtimes that load
 * no TypeScript and no npm: a Worker, a browser tab. onnxruntime is never loaded on `lean`; its dynamic
 * imports stay unresolved in the bundle (calling them there fails with the specifier named).
 */
import { join } from "../io/path.ts";

/** The repository root. */
export const ROOT: string = new URL("../../", import.meta.url).pathname;

const EXTERNAL = [
  "npm:onnxruntime-web@1.30.0",
  "npm:onnxruntime-web@1.30.0/webgpu",
  "npm:onnxruntime-node@1.30.0",
  "npm:@huggingface/transformers@4.3.1",
];

/**
 * The bundle of `entry` (a path under the repository root) as text, minified unless `minify` is false.
 *
 * @example
 * ```ts ignore
 * const js = await bundleModule("src/edge/browser.ts");
 * ```
 */
export async function bundleModule(entry: string, opts: { minify?: boolean } = {}): Promise<string> {
  const dir = await Deno.makeTempDir(), tmp = join(dir, "bundle.js");
  try {
    // `--external` takes several values: give each as --external=…, so the entry is not taken for one
    const args = [
      "bundle",
      "--platform",
      "browser",
      "--format",
      "esm",
      ...EXTERNAL.map((e) => `--external=${e}`),
    ];
    // minified: workerd holds a module's source more than once; 1.6 → 0.9 MB cut its idle RSS by 9 MB
    if (opts.minify ?? true) args.push("--minify");
    const out = await new Deno.Command(Deno.execPath(), {
      args: [...args, "-o", tmp, join(ROOT, entry)],
      cwd: ROOT,
    })
      .output();
    if (!out.success) {
      throw new Error(`deno bundle ${entry} failed:\n${new TextDecoder().decode(out.stderr)}`);
    }
    return await Deno.readTextFile(tmp);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
