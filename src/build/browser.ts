/**
 * @module `deno task build:web [--out DIR]`: the library for a browser tab (src/edge/browser.ts) as one
 * ES module, `posttrain.js`, beside `kernels.wasm` (the module fetches it from its own URL), in `--out`
 * (default `dist/web`). The HTTP app serves both at `/playground/` (main.ts builds them on first use).
 * Prints one JSON line with the sizes.
 */
import { join } from "../io/path.ts";
import { bundleModule, ROOT } from "./bundle.ts";

/**
 * Write `posttrain.js` and `kernels.wasm` into `out`.
 *
 * @example
 * ```ts ignore
 * await buildBrowser("dist/web");
 * ```
 */
export async function buildBrowser(out = join(ROOT, "dist/web")): Promise<{ out: string; bytes: number }> {
  const js = new TextEncoder().encode(await bundleModule("src/edge/browser.ts"));
  await Deno.mkdir(out, { recursive: true });
  // temp + rename: a server reading the bundle never sees half of it
  const tmp = join(out, `.posttrain.js.tmp-${crypto.randomUUID().slice(0, 8)}`);
  await Deno.writeFile(tmp, js);
  await Deno.rename(tmp, join(out, "posttrain.js"));
  await Deno.copyFile(join(ROOT, "wasm/kernels.wasm"), join(out, "kernels.wasm"));
  return { out, bytes: js.length };
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--out");
  console.log(JSON.stringify(await buildBrowser(i >= 0 ? Deno.args[i + 1] : undefined)));
}
