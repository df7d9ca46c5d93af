/**
 * @module `export`: write a model dir in a format another runtime loads. Formats:
 * `transformersjs` (config + tokenizer + `onnx/model.onnx` with a KV cache, for
 * `AutoModelForCausalLM.from_pretrained`).
 */
import { z } from "npm:zod@4.6.7";
import { exportTransformersJs } from "../models/export_transformersjs.ts";
import { BACKENDS, DEFAULT_BACKEND } from "../runtime/backend.ts";
import { loadModelWithAdapters, modelPath, parseFlags, progress } from "./common.ts";

/** Export formats. */
export const EXPORT_FORMATS = ["transformersjs"] as const;

/** Flags of `export` (unknown flags are an error). */
export const ExportFlags = z.strictObject({
  model: z.string().describe("HF model dir, or 'default'"),
  format: z.enum(EXPORT_FORMATS).describe("output format: transformersjs"),
  out: z.string().describe("output dir (created, or its files replaced)"),
  adapter: z.string().optional().describe(
    "LoRA adapter dir(s), comma-separated, merged into the exported weights",
  ),
  backend: z.enum(BACKENDS).default(DEFAULT_BACKEND).describe(
    "unused by export; accepted like every command",
  ),
});

/**
 * Run `export`; returns the stdout JSON: the written files, relative to `--out`.
 *
 * @example
 * ```ts ignore
 * await exportCommand(["--model", "./m", "--format", "transformersjs", "--out", "./m-web"]);
 * // { files: ["config.json", "generation_config.json", "onnx/model.onnx", "tokenizer.json", …] }
 * ```
 */
export async function exportCommand(argv: string[]): Promise<{ files: string[] }> {
  const f = parseFlags(ExportFlags, argv);
  progress(`export: ${f.model} → ${f.out} (${f.format})`);
  const weights = f.adapter ? (await loadModelWithAdapters(f.model, f.adapter)).weights : undefined;
  const { files } = await exportTransformersJs(modelPath(f.model), f.out, { weights });
  progress(`export: wrote ${files.length} files`);
  return { files };
}
