/**
 * The library is runtime-agnostic (issue 15.1): outside the CLI, the server entry point, the build
 * tooling and the Deno adapters (Deno KV, the file-system storage, the Deno host), no module names
 * `Deno`; files go through `io/storage.ts`, environment and memory through `util/host.ts`.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { ROOT, tsFiles } from "../_source.ts";
import { MemoryStorage, MountStorage, readText, setStorage, storage } from "../../src/io/storage.ts";
import { loadModel } from "../../src/models/load.ts";
import { host, setHost } from "../../src/util/host.ts";
import { tinyModelDir } from "../routes/_app.ts";

/** Where `Deno.` may appear: Deno's own entry points and adapters. */
const ALLOWED = [
  "main.ts",
  "src/cli/",
  "src/build/",
  "src/jobs/kv_store.ts",
  "src/jobs/data_dir.ts", // the server's OS lock and temp sweep on its local data dir
  "src/io/fs_storage.ts",
  "src/util/host_deno.ts",
];

/** Source without comments (JSDoc examples may show Deno usage) and without string contents. */
function code(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

Deno.test("no module of the library names Deno outside the CLI, main.ts, the build tooling and the Deno adapters", async () => {
  const files = [...await tsFiles("src"), ...await tsFiles("routes"), "mod.ts", "wasm/mod.ts"];
  const offenders: string[] = [];
  for (const f of files) {
    if (ALLOWED.some((a) => f === a || (a.endsWith("/") && f.startsWith(a)))) continue;
    const lines = code(await Deno.readTextFile(join(ROOT, f))).split("\n");
    lines.forEach((l, i) =>
      /\bDeno\./.test(l) && offenders.push(`${relative(ROOT, join(ROOT, f))}:${i + 1}: ${l.trim()}`)
    );
  }
  assert.deepEqual(offenders, []);
});

Deno.test("the scan sees a Deno reference in code and none in comments", () => {
  assert.match(code("const x = Deno.env.get('A'); // Deno.exit()"), /Deno\.env/);
  assert.doesNotMatch(
    code("/** Deno.serve(app.fetch) */\n// Deno.exit(1)\nconst u = 'https://x';"),
    /Deno\./,
  );
});

Deno.test("a model loads from bundled bytes through setStorage, with no file system involved", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await tinyModelDir(dir);
    const files: Record<string, Uint8Array> = {};
    for await (const e of Deno.readDir(dir)) files[e.name] = await Deno.readFile(join(dir, e.name));
    const fromDisk = await loadModel(dir);
    const previous = setStorage(
      new MountStorage({ "bundled/tiny": new MemoryStorage(files), "": new MemoryStorage() }),
    );
    try {
      const m = await loadModel("bundled/tiny");
      assert.deepEqual(m.config, fromDisk.config);
      for (const [k, w] of fromDisk.weights) assert.deepEqual(m.weights.get(k), w, k);
      await storage().write("out/notes.txt", "written in memory");
      assert.equal(await readText("/out/notes.txt"), "written in memory");
    } finally {
      setStorage(previous);
    }
    assert.equal(await Deno.stat("out/notes.txt").catch(() => undefined), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("environment comes from the host: a replaced host answers for the library", () => {
  const previous = setHost({ ...host(), env: (k) => (k === "POSTTRAIN_WASM_THREADS" ? "3" : undefined) });
  try {
    assert.equal(host().env("POSTTRAIN_WASM_THREADS"), "3");
  } finally {
    setHost(previous);
  }
});
