/**
 * @module Shared CLI plumbing: flag parsing against zod schemas, model and data loading,
 * stderr progress, and the contract's last-line JSON on stdout.
 */
import { z } from "npm:zod@4.6.7";
import { BACKENDS, DEFAULT_BACKEND } from "../runtime/backend.ts";
import type { LoadedModel } from "../models/load.ts";
import { loadModelWithAdapters as loadWithAdapters } from "../lora/with_adapters.ts";
import { resolveModelDir } from "../models/reference.ts";
import { readJsonl } from "../data/rows.ts";
import { encodeRows, loadTokenizer } from "../data/tokenize.ts";
import type { Example } from "../data/example.ts";

/** Flags every command takes. */
export const CommonFlags = z.object({
  backend: z.enum(BACKENDS).default(DEFAULT_BACKEND).describe(
    "engine: wasm | webgpu | node (onnxruntime) or lean (our executor, in one planned arena)",
  ),
  truncate: z.boolean().default(false).describe("cut rows longer than the context instead of failing"),
  adapter: z.string().optional().describe("LoRA adapter dir(s), comma-separated, merged into the weights"),
});

type Def = { type: string; innerType?: z.ZodType; options?: z.ZodType[]; values?: unknown[] };
const defOf = (t: z.ZodType | undefined) => (t as unknown as { def?: Def } | undefined)?.def;

/**
 * The zod type under optional/default wrappers ("number", "boolean", "string", …); a literal or a union of
 * literals that are all numbers (`4 | 8`) is "number" too, so its flag's value is parsed as one.
 */
function baseType(t: z.ZodType | undefined): string | undefined {
  let def = defOf(t);
  while (def && (def.type === "default" || def.type === "optional" || def.type === "nullable")) {
    def = defOf(def.innerType);
  }
  const numericLiteral = (d: Def | undefined): boolean =>
    d?.type === "literal" && (d.values ?? []).every((v) => typeof v === "number");
  if (numericLiteral(def) || (def?.type === "union" && def.options!.every((o) => numericLiteral(defOf(o))))) {
    return "number";
  }
  return def?.type;
}

/** Parse `--kebab-case value` flags into an object checked by `schema`; errors name the flag. */
export function parseFlags<S extends z.ZodObject>(schema: S, argv: string[]): z.infer<S> {
  const raw: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${JSON.stringify(a)}`);
    const key = a.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const next = argv[i + 1];
    const kind = baseType(schema.shape[key] as z.ZodType | undefined);
    if (kind === undefined) throw new Error(`${a}: unknown flag`);
    if (kind === "boolean" && (next === undefined || next.startsWith("--"))) raw[key] = true;
    else if (next === undefined) throw new Error(`${a}: a value is needed`);
    else {
      raw[key] = kind === "number" && next.trim() !== "" && !Number.isNaN(Number(next)) ? Number(next) : next;
      i++;
    }
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const flag = String(issue.path[0] ?? "").replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
    throw new Error(flag ? `--${flag}: ${issue.message}` : issue.message);
  }
  return r.data;
}

/** Progress line to stderr. */
export function progress(msg: string): void {
  console.error(msg);
}

/** Resolve `--model` ("default" is the built-in model's directory). */
export const modelPath: (model: string) => string = resolveModelDir;

/** Load a model and merge LoRA adapters (comma-separated PEFT dirs) into its weights. */
export const loadModelWithAdapters: (model: string, adapters?: string) => Promise<LoadedModel> =
  loadWithAdapters;

/** Load a model (with optional adapters) and tokenize a JSONL file against it. */
export async function loadModelAndData(
  model: string,
  data: string,
  truncate: boolean,
  adapters?: string,
): Promise<{ model: LoadedModel; examples: Example[] }> {
  const m = await loadModelWithAdapters(model, adapters);
  const rows = await readJsonl(data);
  if (rows.length === 0) throw new Error(`${data}: no rows`);
  const needsTok = rows.some((r) => !("input_ids" in r));
  const tokenizer = needsTok && m.hasTokenizer ? await loadTokenizer(m.dir) : undefined;
  const examples = encodeRows(rows, {
    tokenizer,
    maxLength: m.config.maxPositions,
    truncate,
    vocabSize: m.config.vocabSize,
  });
  return { model: m, examples };
}
