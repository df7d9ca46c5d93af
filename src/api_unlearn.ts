/**
 * @module The library's `unlearn` and `coreset` operations — the CLI commands of the same names as
 * typed functions: a model is a directory in HF layout or `"default"`, rows a JSONL path or an
 * array of rows; the options are the unlearning engine's (src/unlearn/unlearn.ts) and the coreset
 * selection's (src/coreset/select.ts), spelled out as interfaces so the public API has explicit
 * types, and checked against the zod schemas at compile time.
 */
import type { z } from "npm:zod@4.6.7";
import { saveModel } from "./models/load.ts";
import { paramSpecs } from "./models/model.ts";
import { type Backend, DEFAULT_BACKEND } from "./runtime/backend.ts";
import type { Row } from "./data/rows.ts";
import {
  unlearn as unlearnWeights,
  type UnlearnMethod,
  UnlearnOptionsSchema,
  type UnlearnResult,
} from "./unlearn/unlearn.ts";
import { saveKfadeFactors, saveUpdate } from "./unlearn/update.ts";
import { type CoresetMethod, CoresetOptionsSchema, selectCoreset } from "./coreset/select.ts";
import { rowSources, writeSelection } from "./coreset/train_hooks.ts";
import type { Selection } from "./coreset/cld.ts";
import { encodeFor, loadRows } from "./data/load.ts";
import { loadModelWithAdapters } from "./lora/with_adapters.ts";

export type { CoresetMethod, Selection, UnlearnMethod };

/** Unlearning options (all optional; defaults and meaning as the `unlearn` CLI's flags). */
export interface UnlearnSettings {
  /** kfade (default) | wagle-graddiff | wagle-npo | ga | graddiff | npo. */
  method?: UnlearnMethod;
  /** First-order methods: optimizer steps at most (default 40). */
  steps?: number;
  /** First-order methods: learning rate (default 1e-4). */
  lr?: number;
  /** Forget rows per step (default 8). */
  batchSize?: number;
  /** Retain rows per step (default: batchSize). */
  retainBatchSize?: number;
  /** Linear warm-up steps (default 0). */
  warmup?: number;
  /** Schedule after warm-up (default constant). */
  schedule?: "constant" | "linear" | "cosine";
  /** Decoupled weight decay (default 0). */
  weightDecay?: number;
  /** Global gradient-norm clip, 0 = off (default 1). */
  maxGradNorm?: number;
  /** With targetForgetLoss: check the forget loss every N steps (default 1). */
  evalEvery?: number;
  /** K-FADE: uphill Gauss-Newton steps (default 3). */
  kfadeSteps?: number;
  /** K-FADE: retain KL one step may cause (default 0.05; with targetForgetLoss a cap on each step). */
  klBudget?: number;
  /** K-FADE with targetForgetLoss: steps at most when klBudget shortens steps (default 2 × kfadeSteps). */
  kfadeMaxSteps?: number;
  /** K-FADE: retain corrections after each step (default 2; 0 = none). */
  corrections?: number;
  /** K-FADE: retain rows the correction's KL gradient is taken on (default 128). */
  correctionRows?: number;
  /** K-FADE: temperature the curvature's labels are sampled at (default 1). */
  fisherTemperature?: number;
  /** K-FADE: plain K-FAC eigenvalues instead of EK-FAC's refit. */
  plainKfac?: boolean;
  /** K-FADE: damping = scale × mean eigenvalue (default 0.01). */
  dampingScale?: number;
  /** K-FADE: absolute damping (overrides dampingScale). */
  damping?: number;
  /** K-FADE: keep the first curvature fit for every step. */
  noRefit?: boolean;
  /** K-FADE: retain rows the curvature is fit on (default 512). */
  fitRows?: number;
  /** K-FADE: retain rows each step's KL is measured on (default 64). */
  probeRows?: number;
  /** K-FADE: sampled labels per position (default 1). */
  fisherSamples?: number;
  /** K-FADE: module-name suffixes to update (default all linear). */
  modules?: string;
  /** WAGLE: share of weights unlearning may change (default 0.8). */
  maskRatio?: number;
  /** WAGLE: γ of the attribution score (default 1e-6). */
  wagleGamma?: number;
  /** First-order retain term: none | nll | kl (default none for ga, nll otherwise). */
  retainLoss?: "none" | "nll" | "kl";
  /** Weight α of the retain term (default 1). */
  alpha?: number;
  /** Weight γ of the forget term (default 1). */
  gamma?: number;
  /** NPO β (default 0.1). */
  beta?: number;
  /** Data order and sampled labels (default 42). */
  seed?: number;
  /** Stop (first-order) or line-search (kfade) at this mean forget NLL. */
  targetForgetLoss?: number;
}
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// a field added to UnlearnOptionsSchema fails this check until it is added above
const _sameUnlearn: Same<keyof UnlearnSettings, keyof z.input<typeof UnlearnOptionsSchema>> = true;

/** Options of {@link unlearn}. */
export interface UnlearnModelOptions extends UnlearnSettings {
  /** HF model dir, or "default". */
  model: string;
  /** LoRA adapter dirs merged in first. */
  adapter?: string | readonly string[];
  /** Rows to forget: JSONL path or rows. */
  forget: string | readonly unknown[];
  /** Rows to keep (required by every method but ga): JSONL path or rows. */
  retain?: string | readonly unknown[];
  /** Output HF model dir (written atomically). */
  out: string;
  /** Also write the update θ_after − θ_before here (.safetensors; for `apply-update`). */
  saveUpdate?: string;
  /** kfade: also write the retain curvature here (for `apply-update --factors`). */
  saveFactors?: string;
  /** Default "wasm". */
  backend?: Backend;
  /** Cut rows longer than the context instead of failing. */
  truncate?: boolean;
  /** After every step: its number and the forget NLL. */
  onStep?: (p: { step: number; forgetLoss: number; loss?: number }) => void;
  /** Progress messages. */
  log?: (msg: string) => void;
  /** Stop before the next step (nothing is written). */
  signal?: AbortSignal;
}

/** What {@link unlearn} reports (the CLI prints it in snake_case); retain losses are NaN without retain rows. */
export type UnlearnModelResult = Pick<
  UnlearnResult,
  "forgetLossBefore" | "forgetLossAfter" | "retainLossBefore" | "retainLossAfter" | "steps" | "seconds"
>;

/**
 * Unlearn rows from a model and write the unlearned model.
 *
 * @example
 * ```ts ignore
 * const r = await unlearn({
 *   model: "default",
 *   forget: [{ question: "Where was Shis Grejez born?", answer: " Kuhaven" }],
 *   retain: "retain.jsonl",
 *   method: "kfade",
 *   out: "./unlearned",
 * });
 * console.log(r.forgetLossBefore, "→", r.forgetLossAfter);
 * ```
 */
export async function unlearn(o: UnlearnModelOptions): Promise<UnlearnModelResult> {
  const { model: ref, adapter, forget: f, retain: rt, out, backend = DEFAULT_BACKEND, truncate = false } = o;
  const options = UnlearnOptionsSchema.parse(pick(o, UnlearnOptionsSchema.shape));
  if (options.method !== "ga" && rt === undefined) {
    throw new Error(`retain: required by method ${options.method}`);
  }
  const m = await loadModelWithAdapters(ref, adapter);
  if (o.saveFactors && options.method !== "kfade") throw new Error("saveFactors: only with method kfade");
  const rows = async (field: string, d: string | readonly unknown[]) => {
    const ex = await encodeFor(m, await loadRows(d), truncate).catch((e) => {
      throw new Error(`${field}: ${(e as Error).message}`);
    });
    if (!ex.some((e) => e.labels.some((l) => l !== -100))) throw new Error(`${field}: no target tokens`);
    return ex;
  };
  const forget = await rows(typeof f === "string" ? f : "forget", f);
  const retain = rt === undefined ? [] : await rows(typeof rt === "string" ? rt : "retain", rt);
  o.log?.(
    `unlearn ${options.method}: ${forget.length} forget rows, ${retain.length} retain rows, backend ${backend}`,
  );
  const r = await unlearnWeights(m.config, m.weights, forget, retain, options, {
    backend,
    log: o.log,
    onStep: o.onStep,
    signal: o.signal,
  });
  const shapes = new Map(paramSpecs(m.config).map((s) => [s.name, s.shape]));
  await saveModel(out, m);
  if (o.saveUpdate) {
    const n = await saveUpdate(o.saveUpdate, r.update, shapes, { method: options.method, model: ref });
    o.log?.(`update: ${n} tensors → ${o.saveUpdate}`);
  }
  if (o.saveFactors && r.kfade) await saveKfadeFactors(o.saveFactors, r.kfade);
  return {
    forgetLossBefore: r.forgetLossBefore,
    forgetLossAfter: r.forgetLossAfter,
    retainLossBefore: r.retainLossBefore,
    retainLossAfter: r.retainLossAfter,
    steps: r.steps,
    seconds: r.seconds,
  };
}

/** Coreset options (all optional; defaults and meaning as the `coreset` CLI's flags). */
export interface CoresetSettings {
  /** Proxy data order (cld), directions (colm); default 0. */
  seed?: number;
  /** cld: proxy learning rate (default 1e-3). */
  lr?: number;
  /** cld: proxy rows per step (default 8). */
  batchSize?: number;
  /** cld: proxy epochs (default 2). */
  epochs?: number;
  /** cld: loss checkpoints per epoch (default 16). */
  evalsPerEpoch?: number;
  /** cld: "row" (default) or "class" (the paper's) alignment. */
  align?: "row" | "class";
  /** cld: equal share per matched validation row ("matched", default), top-k over all rows ("global"), or per source ("proportional"). */
  budget?: "matched" | "global" | "proportional";
  /** colm: per-row feature, "grad" (the last value projection's gradient, default) or "zo" (zeroth-order). */
  feature?: "grad" | "zo";
  /** colm: zeroth-order perturbation ε (default 1e-3). */
  eps?: number;
  /** colm: random directions per estimate (default 1). */
  directions?: number;
  /** colm: feature dimensions kept (default 2560). */
  zoDim?: number;
  /** colm: sources kept whole (comma-separated or a list). */
  keepSources?: string | readonly string[];
  /** colm: without keepSources, sources under this share of the rows are kept whole (default 0.05). */
  smallFraction?: number;
  /** colm: facility-location similarity (default cosine). */
  similarity?: "cosine" | "l1";
}
const _sameCoreset: Same<keyof CoresetSettings, keyof z.input<typeof CoresetOptionsSchema>> = true;

/** Options of {@link coreset}. */
export interface CoresetModelOptions extends CoresetSettings {
  /** HF model dir, or "default". */
  model: string;
  /** cld | colm. */
  method: CoresetMethod;
  /** Candidate rows (JSONL path or rows; a `source` field groups them). */
  data: string | readonly unknown[];
  /** Validation rows (cld). */
  val?: string | readonly unknown[];
  /** Rows to select. */
  k: number;
  /** Also write `{"indices","scores"}` here (what `finetune({ dataIndices })` reads). */
  out?: string;
  /** Default "wasm". */
  backend?: Backend;
  /** Cut rows longer than the context instead of failing. */
  truncate?: boolean;
  /** Progress: `done` of `of` units (cld: loss checkpoints). */
  onProgress?: (done: number, of: number) => void;
}

/**
 * Select k of the rows (0-based indices, best first, and their scores) with CLD or CoLM.
 *
 * @example
 * ```ts ignore
 * const { indices } = await coreset({ model: "default", method: "cld", data: "mix.jsonl", val: "val.jsonl", k: 100 });
 * await finetune({ model: "default", data: "mix.jsonl", dataIndices: indices, out: "./tuned" });
 * ```
 */
export async function coreset(o: CoresetModelOptions): Promise<Selection> {
  const { keepSources, ...rest } = pick(o, CoresetOptionsSchema.shape);
  const options = {
    ...CoresetOptionsSchema.parse(rest),
    keepSources: keepSources as CoresetSettings["keepSources"],
  };
  const m = await loadModelWithAdapters(o.model);
  const rows: Row[] = await loadRows(o.data);
  const valRows = o.val === undefined ? undefined : await loadRows(o.val);
  const sel = await selectCoreset({
    method: o.method,
    config: m.config,
    weights: m.weights,
    data: await encodeFor(m, rows, o.truncate),
    sources: rowSources(rows),
    val: valRows && await encodeFor(m, valRows, o.truncate),
    valSources: valRows && rowSources(valRows),
    k: o.k,
    options,
    backend: o.backend ?? DEFAULT_BACKEND,
    onProgress: o.onProgress,
  });
  if (o.out) await writeSelection(o.out, sel, { method: o.method });
  return sel;
}

/** The entries of `o` whose keys the schema shape has. */
function pick<T extends object>(o: T, shape: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => k in shape));
}
