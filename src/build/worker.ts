/**
 * @module `deno task build:worker [--model DIR] [--out DIR] [--int8 auto|yes|no]`: a Cloudflare Workers
 * bundle of the HTTP API (src/edge/worker.ts) in `--out` (default `dist/worker`):
 *
 * ```
 * worker.js      one ES module (deno bundle), the Worker and its Durable Object class PosttrainJobs
 * kernels.wasm   the WASM kernels, imported as a precompiled module (Workers refuse to compile bytes)
 * model.bin      the built-in model as a data module (src/edge/model_pack.ts); INT8 weights when the
 *                F32 ones would push the bundle past 10 MB compressed (auto), or as asked
 * public/        static assets: /playground's script (build:web) and kernels, served outside the isolate
 * wrangler.toml  deployable unchanged: `npx wrangler deploy` in that folder
 * ```
 *
 * Prints one JSON line: the files with their sizes, raw and gzip-compressed.
 */
import { join } from "../io/path.ts";
import { quantizeModelFile } from "../io/int8_model.ts";
import { INT8_WEIGHTS, packFiles } from "../edge/model_pack.ts";
import { bundleModule, ROOT } from "./bundle.ts";
import { buildBrowser } from "./browser.ts";

/** Cloudflare's limit on a Worker's compressed size (paid plan). */
export const WORKER_LIMIT_BYTES = 10 * 1024 * 1024;
const MODEL_FILES = [
  "config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "generation_config.json",
  "chat_template.jinja",
];
/**
 * The deployable defaults of `[vars]`: 5 optimizer steps per chunk (one alarm: ≈ 2.2 s of CPU for the default
 * model's LoRA at batch 4, measured in workerd: within the 30 s limit with room for a slower machine); a lean
 * device reserving 112 MiB (Cloudflare's accounting of a WASM reservation could not be checked locally, so
 * the reservation stays within what a 128 MB isolate can hold; a job needing more fails at its first step);
 * the memory budget jobs are planned against (MiB).
 */
export const DEFAULT_VARS: Record<string, string> = {
  POSTTRAIN_CHUNK_STEPS: "5",
  POSTTRAIN_LEAN_RESERVE_MB: "112",
  POSTTRAIN_MEMORY_BUDGET: "128",
};

/** Options of {@link buildWorker}. */
export interface BuildWorkerOptions {
  /** Model dir bundled as `default` (default models/default). */
  model?: string;
  /** Output folder (default dist/worker). */
  out?: string;
  /** INT8 weights: "auto" (when F32 would not fit the limit), "yes" or "no". */
  int8?: "auto" | "yes" | "no";
  /** `[vars]` of wrangler.toml. */
  vars?: Record<string, string>;
}

/** What {@link buildWorker} wrote. */
export interface BuiltWorker {
  out: string;
  int8: boolean;
  files: { name: string; bytes: number; gzip_bytes: number }[];
  total_gzip_bytes: number;
}

async function gzipSize(bytes: Uint8Array): Promise<number> {
  const s = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(s).arrayBuffer()).byteLength;
}

/** The model dir's files as a pack, with INT8 or F32 weights. */
async function modelPack(dir: string, int8: boolean): Promise<Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const f of MODEL_FILES) {
    try {
      files[f] = await Deno.readFile(join(dir, f));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  if (!files["config.json"]) throw new Error(`--model ${dir}: no config.json`);
  const weights = await Deno.readFile(join(dir, "model.safetensors")).catch(() => {
    throw new Error(`--model ${dir}: the bundle needs a single model.safetensors`);
  });
  if (int8) files[INT8_WEIGHTS] = quantizeModelFile(weights);
  else files["model.safetensors"] = weights;
  return packFiles(files);
}

/** wrangler.toml for the bundle: no re-bundling, the wasm and the model as modules, one Durable Object. */
export function wranglerToml(vars: Record<string, string>, compatibilityDate: string): string {
  const v = Object.entries(vars).map(([k, x]) => `${k} = ${JSON.stringify(x)}`).join("\n");
  return `# posttrain on Cloudflare Workers: \`npx wrangler deploy\` in this folder (built by deno task build:worker)
name = "posttrain"
main = "worker.js"
compatibility_date = "${compatibilityDate}"
compatibility_flags = ["nodejs_compat"]
# worker.js is already one bundled module; kernels.wasm and model.bin are its other modules
no_bundle = true
rules = [
  { type = "CompiledWasm", globs = ["**/*.wasm"], fallthrough = false },
  { type = "Data", globs = ["**/*.bin"], fallthrough = false },
]

# /playground's script and kernels (the page itself and the model's files come from the Worker)
[assets]
directory = "./public"
binding = "ASSETS"

[limits]
# CPU ms per invocation; a job advances POSTTRAIN_CHUNK_STEPS optimizer steps per alarm
cpu_ms = 30000

[vars]
${v}

[[durable_objects.bindings]]
name = "JOBS"
class_name = "PosttrainJobs"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["PosttrainJobs"]
`;
}

/**
 * Build the Workers bundle.
 *
 * @example
 * ```ts ignore
 * const built = await buildWorker({ model: "models/default", out: "dist/worker" });
 * ```
 */
export async function buildWorker(opts: BuildWorkerOptions = {}): Promise<BuiltWorker> {
  const out = opts.out ?? join(ROOT, "dist/worker"), model = opts.model ?? join(ROOT, "models/default");
  const { compatibilityDate } = (await import("npm:workerd@1.20261117.1")).default as {
    compatibilityDate: string;
  };
  // the bundle's other modules, bound to the names src/edge/bundled.ts reads
  const head =
    'import __posttrain_kernels from "./kernels.wasm";\nimport __posttrain_model from "./model.bin";\n';
  const code = new TextEncoder().encode(head + await bundleModule("src/edge/worker.ts"));
  const kernels = await Deno.readFile(join(ROOT, "wasm/kernels.wasm"));
  let int8 = opts.int8 === "yes";
  let pack = await modelPack(model, int8);
  const fixed = await gzipSize(code) + await gzipSize(kernels);
  if (opts.int8 !== "no" && !int8 && fixed + await gzipSize(pack) > WORKER_LIMIT_BYTES) {
    int8 = true;
    pack = await modelPack(model, true);
  }
  const vars = { ...DEFAULT_VARS, ...opts.vars };
  const files: [string, Uint8Array][] = [
    ["worker.js", code],
    ["kernels.wasm", kernels],
    ["model.bin", pack],
    ["wrangler.toml", new TextEncoder().encode(wranglerToml(vars, compatibilityDate))],
  ];
  await Deno.mkdir(out, { recursive: true });
  // the playground's script and kernels: static assets, served outside the isolate
  await buildBrowser(join(out, "public", "playground"));
  const sizes = [];
  for (const [name, bytes] of files) {
    await Deno.writeFile(join(out, name), bytes);
    sizes.push({ name, bytes: bytes.length, gzip_bytes: await gzipSize(bytes) });
  }
  const total = sizes.filter((s) => s.name !== "wrangler.toml").reduce((a, s) => a + s.gzip_bytes, 0);
  if (total > WORKER_LIMIT_BYTES) {
    throw new Error(`the bundle is ${total} bytes compressed, past Cloudflare's ${WORKER_LIMIT_BYTES}`);
  }
  return { out, int8, files: sizes, total_gzip_bytes: total };
}

if (import.meta.main) {
  const args = Deno.args,
    flag = (name: string) => {
      const i = args.indexOf(`--${name}`);
      return i >= 0 ? args[i + 1] : undefined;
    };
  const int8 = flag("int8") ?? "auto";
  if (!["auto", "yes", "no"].includes(int8)) {
    console.error("error: --int8 must be auto, yes or no");
    Deno.exit(1);
  }
  try {
    const built = await buildWorker({
      model: flag("model"),
      out: flag("out"),
      int8: int8 as BuildWorkerOptions["int8"],
    });
    console.log(JSON.stringify(built));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
