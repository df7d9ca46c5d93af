/**
 * posttrain imported as another project would: by path, with no import map. The library's modules
 * name their npm packages with versioned `npm:` specifiers (the versions of deno.json's import map,
 * which tests and benchmarks use), so nothing needs this repository's deno.json.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { ROWS, tinyModelDir } from "./routes/_app.ts";
import { ROOT, tsFiles } from "./_source.ts";

/** Every .ts file of the library and its entry points (what an importer of mod.ts may load), absolute. */
async function libraryFiles(): Promise<string[]> {
  const rel = [
    ...await tsFiles("src"),
    ...await tsFiles("routes"),
    ...await tsFiles("wasm"),
    "mod.ts",
    "main.ts",
  ];
  return rel.map((f) => join(ROOT, f));
}

/** Import specifiers of code (JSDoc examples left out: they show how a user imports). */
async function specifiers(file: string): Promise<string[]> {
  const code = (await Deno.readTextFile(file)).replace(/\/\*\*[\s\S]*?\*\//g, "");
  return [...code.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)"([^"]+)"/gm)].map((m) => m[1]);
}

Deno.test("library modules import packages by versioned npm: specifiers that match deno.json's import map", async () => {
  const map = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).imports as Record<string, string>;
  const pinned = new Set(Object.values(map).map((v) => v.replace(/^npm:\//, "npm:").replace(/\/$/, "")));
  const bad: string[] = [];
  for (const f of await libraryFiles()) {
    for (const s of await specifiers(f)) {
      if (s.startsWith(".") || s.startsWith("node:")) continue;
      const pkg = s.match(/^npm:(@[^/]+\/[^/@]+|[^/@]+)@[^/]+/)?.[0];
      if (!pkg || !pinned.has(pkg)) bad.push(`${relative(ROOT, f)}: ${s}`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("a project with no import map imports mod.ts by path and fine-tunes", async () => {
  const dir = await Deno.makeTempDir();
  const model = await tinyModelDir(join(dir, "model"));
  const project = join(dir, "project");
  await Deno.mkdir(project);
  await Deno.writeTextFile(
    join(project, "main.ts"),
    `import { finetune } from ${JSON.stringify(join(ROOT, "mod.ts"))};\n` +
      `const r = await finetune(${
        JSON.stringify({ model, data: ROWS, out: join(dir, "out"), steps: 2, lr: 1e-2, batchSize: 3 })
      });\n` +
      `console.log(JSON.stringify(r));\n`,
  );
  // --no-config: no deno.json (so no import map) even if a parent folder had one; npm packages
  // come from Deno's global cache (fetched from the registry the first time)
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", "main.ts"],
    cwd: project,
    env: { POSTTRAIN_WASM_THREADS: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout), stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const r = JSON.parse(stdout.trim().split("\n").at(-1)!);
  assert.equal(r.steps, 2);
  assert.ok(r.lossEnd < r.lossStart, JSON.stringify(r));
  const written = [...Deno.readDirSync(join(dir, "out"))].map((e) => e.name);
  assert.ok(written.includes("model.safetensors"), written.join());
});
