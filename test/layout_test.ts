/**
 * The source tree's shape (DESIGN.md §2): the library never imports the tooling that builds the
 * default model (src/build/), no module imports itself back through others, and imports point down
 * the layers (routes → jobs → train/unlearn/coreset → optim, lora, curvature → models → runtime → graph).
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT, tsFiles } from "./_source.ts";

/** Relative imports of a file (static, re-exports and dynamic with a literal), resolved against the root. */
async function importsOf(file: string): Promise<string[]> {
  const src = await Deno.readTextFile(join(ROOT, file));
  const specs = [
    ...src.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"/gms),
    ...src.matchAll(/^\s*import\s*"([^"]+)"/gm),
    ...src.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
  ].map((m) => m[1]);
  return specs.filter((s) => s.startsWith(".")).map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)));
}

/** The library and its entry points: src/ without src/build, routes/, mod.ts, main.ts. */
async function libraryFiles(): Promise<string[]> {
  const src = (await tsFiles("src")).filter((f) => !f.startsWith("src/build/"));
  return [...src, ...await tsFiles("routes"), "mod.ts", "main.ts"];
}

Deno.test("no file of the library, routes/, mod.ts or main.ts imports the build tooling (src/build/)", async () => {
  const offenders: string[] = [];
  for (const f of await libraryFiles()) {
    for (const d of await importsOf(f)) if (d.startsWith("src/build/")) offenders.push(`${f} → ${d}`);
  }
  assert.deepEqual(offenders, []);
});

Deno.test("the library's modules import each other without cycles", async () => {
  const files = await libraryFiles();
  const edges = new Map<string, string[]>();
  for (const f of files) edges.set(f, (await importsOf(f)).filter((d) => d.endsWith(".ts")));
  // depth-first search; a back edge closes a cycle
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]) => {
    state.set(f, "open");
    for (const d of edges.get(f) ?? []) {
      if (state.get(d) === "open") cycles.push([...path.slice(path.indexOf(d)), d].join(" → "));
      else if (!state.has(d) && edges.has(d)) visit(d, [...path, d]);
    }
    state.set(f, "done");
  };
  for (const f of files) if (!state.has(f)) visit(f, [f]);
  assert.deepEqual(cycles, []);
});

/** Layers from the top; a folder (or file) may import its own layer's and lower layers' modules. */
const LAYERS = [
  ["main.ts", "mod.ts", "src/build", "src/edge"],
  ["routes", "src/cli"],
  ["src/jobs"],
  ["src/api.ts", "src/api_unlearn.ts"],
  ["src/train", "src/unlearn", "src/coreset"],
  ["src/optim", "src/lora", "src/curvature", "src/eval"],
  ["src/models"],
  ["src/data", "src/io"],
  ["src/runtime"],
  ["src/graph", "src/linalg", "wasm"],
  ["src/util", "src/errors.ts"],
];

/** The layer of a file: the index of its longest matching entry. */
function layerOf(file: string): number {
  let best = -1, len = -1;
  LAYERS.forEach((entries, i) => {
    for (const e of entries) {
      if ((file === e || file.startsWith(e + "/")) && e.length > len) (best = i, len = e.length);
    }
  });
  if (best < 0) throw new Error(`${file}: in no layer of LAYERS (add its folder)`);
  return best;
}

Deno.test("imports point down the layers (or stay within one)", async () => {
  const upward: string[] = [];
  for (const f of [...await libraryFiles(), ...await tsFiles("wasm")]) {
    for (const d of await importsOf(f)) {
      if (d.endsWith(".ts") && layerOf(d) < layerOf(f)) upward.push(`${f} → ${d}`);
    }
  }
  assert.deepEqual(upward, []);
});
