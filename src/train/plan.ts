/**
 * @module The memory a run needs, before running it: the bytes itemised (runtime, weights, arena,
 * optimizer state, gradients held for the step) and which edge budgets they fit. On `lean` the arena is
 * exact — the static memory plan of the very graph the run compiles, for the largest batch — and the
 * other items are counted from the parameter shapes; on onnxruntime backends the arena is an estimate
 * (the forward activations a whole-graph session keeps plus the logits), labelled `exact: false`.
 * The runtime figures are measured constants (Deno 2.9.6, `deno task bench:memory`).
 */
import type { Tensor } from "../graph/ir.ts";
import { ancestors } from "../graph/autodiff.ts";
import type { DecoderConfig } from "../models/config.ts";
import { buildForward, buildLossGraph, forwardInputs, paramSpecs } from "../models/model.ts";
import type { LinearAdapter, WeightSource } from "../models/params.ts";
import { isLoraParam, loraAdapter, LoraConfigSchema } from "../lora/lora.ts";
import { defaultTargets, quantizedBase } from "../lora/setup.ts";
import { lowRankTargets } from "../optim/lowrank.ts";
import { fedBytes, quantizedSource, type QuantSpec } from "../optim/int8_weights.ts";
import type { Backend } from "../runtime/session.ts";

/** Budgets a plan is checked against, in MiB (Cloudflare / Vercel Edge, Supabase, Deno Deploy). */
export const BUDGETS_MB = [128, 256, 512] as const;

/**
 * Resident memory of the runtime before any model work, MiB (peak RSS of a process that only loads the
 * module and its engine: Deno with the module graph; onnxruntime-web adds its WASM heap and threads).
 */
export const RUNTIME_MB: Record<Backend, number> = { lean: 69, wasm: 165, webgpu: 200, node: 91 };

/**
 * JS memory per node of the compiled graph (the IR, the schedule, the plan and the prebuilt kernel calls of
 * lean; the graph kept for a session elsewhere): fitted to `deno task bench:memory` (≈ 9 KB a node).
 */
export const GRAPH_BYTES_PER_NODE = 9 * 1024;

/** What to plan. */
export interface PlanRequest {
  config: DecoderConfig;
  /** Fine-tuning method, or `eval` (forward only). */
  method: "full" | "lora" | "galore" | "qgalore" | "dct" | "eval";
  batchSize: number;
  seqLen: number;
  backend: Backend;
  /** LoRA / projection rank (defaults as the methods'). */
  rank?: number;
  /** Module suffixes the method targets. */
  targets?: string[];
  /** LoRA over a quantized frozen base (QLoRA-style). */
  baseBits?: 4 | 8;
  /** Gradient accumulation steps (> 1: gradients are accumulated in full, not streamed). */
  gradAccum?: number;
  /** Global-norm clip (default 1); 0 on lean: each gradient updates its weight at once, none is held. */
  maxGradNorm?: number;
  /** AdamW moments in 32 (default) or 8 bits. */
  momentBits?: 32 | 8;
  /** Module suffixes kept frozen besides the method's own choice (e.g. the embedding). */
  frozen?: string[];
  /** The rows are text: the tokenizer is loaded (counted as {@link TOKENIZER_MB}). */
  text?: boolean;
}

/** Resident memory of the built-in model's tokenizer while rows are encoded, MiB (measured). */
export const TOKENIZER_MB = 10;

/** The plan: bytes by item, whether the arena is exact, which budgets fit. */
export interface RunPlan {
  total_bytes: number;
  items: {
    runtime_bytes: number;
    graph_bytes: number;
    weights_bytes: number;
    arena_bytes: number;
    optimizer_bytes: number;
    gradient_bytes: number;
  };
  exact: boolean;
  fits: Record<string, boolean>;
}

const MiB = 1 << 20;
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Quantized bytes of a weight: codes (½ or 1 byte each) + one f32 scale and u8 zero per group. */
function quantBytes(n: number, bits: 4 | 8, groupSize: number): number {
  return fedBytes(n, groupSize, bits) + 5 * Math.ceil(n / groupSize);
}

/**
 * Plan the memory of a fine-tuning step (or an eval batch).
 *
 * @example
 * ```ts ignore
 * const p = await planRun({ config, method: "lora", batchSize: 4, seqLen: 128, backend: "lean" });
 * p.fits["128MB"]; // true when the whole process stays within Cloudflare's limit
 * ```
 */
export async function planRun(r: PlanRequest, extraBudgetsMb: number[] = []): Promise<RunPlan> {
  const { config, method } = r;
  const specs = paramSpecs(config);
  let adapter: LinearAdapter | undefined, trainable: ((n: string) => boolean) | undefined;
  let source: WeightSource | undefined;
  let weights = 0, optimizer = 0, gradients = 0;
  const groupSize = 256;
  const lowRank = method === "galore" || method === "qgalore" || method === "dct";
  const projected = new Map(lowRank ? lowRankTargets(config, r.targets).map((t) => [t.name, t.shape]) : []);
  const rank = r.rank ?? (method === "lora" ? 8 : 128);
  const quantized: Map<string, QuantSpec> = method === "qgalore"
    ? new Map([...projected.keys()].map((n) => [n, { bits: 8, groupSize }]))
    : method === "lora" && r.baseBits
    ? quantizedBase(config, r.baseBits)
    : new Map();
  for (const s of specs) {
    const q = quantized.get(s.name);
    weights += q ? quantBytes(numel(s.shape), q.bits, q.groupSize) : 4 * numel(s.shape);
  }
  if (quantized.size) source = quantizedSource(quantized).source;
  const streamed = r.backend === "lean" && (r.gradAccum ?? 1) === 1;
  // without clipping each streamed gradient updates its weight at once: none is held for the step
  const held = streamed && r.maxGradNorm === 0 ? 0 : 1, moment = r.momentBits === 8 ? 2 + 8 / 256 : 8;
  const isFrozen = (n: string) => r.frozen?.some((f) => n.includes(f)) ?? false;
  if (method === "lora") {
    const lc = LoraConfigSchema.parse({ rank, alpha: rank, targets: r.targets ?? defaultTargets(config) });
    adapter = loraAdapter(lc, { train: true });
    trainable = isLoraParam;
    const lora = paramSpecs(config, adapter).filter((s) => isLoraParam(s.name));
    const n = lora.reduce((a, s) => a + numel(s.shape), 0);
    weights += 4 * n;
    optimizer = moment * n;
    gradients = held * 4 * n;
  } else if (method !== "eval") {
    if (r.frozen?.length) trainable = (n) => !isFrozen(n);
    for (const s of specs) {
      if (isFrozen(s.name)) continue;
      const p = projected.get(s.name);
      if (!p) {
        const n = numel(s.shape);
        optimizer += moment * n;
        gradients += held * 4 * n;
        continue;
      }
      const [m, n] = p, k = Math.min(rank, m, n), big = Math.max(m, n), small = Math.min(m, n);
      optimizer += moment * k * big; // Adam moments in the projected space
      optimizer += method === "galore"
        ? 4 * k * small
        : method === "qgalore"
        ? quantBytes(k * small, 4, 256)
        : 4 * k;
      gradients += streamed ? held * 4 * k * big : 4 * m * n;
    }
  }
  let arena: number, exact: boolean;
  const shapes = { batch: r.batchSize, seq: r.seqLen };
  const outputs = method === "eval"
    ? buildLossGraph(config, { trainable: () => false, source }).outputs
    : buildLossGraph(config, { trainable, adapter, source }).outputs;
  let nodes = ancestors(Object.values(outputs)).size;
  if (r.backend === "lean") {
    const { compileLean } = await import("../runtime/lean/program.ts");
    const program = await compileLean(outputs, { dims: shapes });
    nodes = program.nodes;
    arena = program.plan({}, undefined, {
      stream: method === "eval" || !streamed ? undefined : (n) => n.startsWith("grad:"),
    }).arenaBytes;
    await program.release();
    exact = true;
    if (!streamed && method !== "eval") gradients *= 2; // onnxruntime-style: outputs copied out, then accumulated
  } else {
    arena = estimateActivations(config, shapes, adapter, source) + (method === "eval" ? 0 : gradients);
    exact = false;
  }
  const items = {
    runtime_bytes: (RUNTIME_MB[r.backend] + (r.text ? TOKENIZER_MB : 0)) * MiB,
    graph_bytes: nodes * GRAPH_BYTES_PER_NODE,
    weights_bytes: weights,
    arena_bytes: arena,
    optimizer_bytes: optimizer,
    gradient_bytes: method === "eval" ? 0 : gradients,
  };
  const total = Object.values(items).reduce((a, b) => a + b, 0);
  const fits: Record<string, boolean> = {};
  for (const b of [...BUDGETS_MB, ...extraBudgetsMb]) fits[`${b}MB`] = total <= b * MiB;
  return { total_bytes: total, items, exact, fits };
}

/** Bytes of every float intermediate of the forward graph at these dims (what a whole-graph session keeps). */
function estimateActivations(
  config: DecoderConfig,
  dims: { batch: number; seq: number },
  adapter?: LinearAdapter,
  source?: WeightSource,
): number {
  const { logits } = buildForward(config, forwardInputs(), adapter, source, true);
  let bytes = 0;
  for (const t of ancestors([logits]) as Set<Tensor>) {
    if (t.op === "input" || t.op === "const" || t.dtype !== "float32") continue;
    const n = numel(t.shape.map((d) => dimValue(d, dims)));
    if (Number.isFinite(n)) bytes += 4 * n;
  }
  return bytes;
}

/** A symbolic dim ("batch", "seq", "batch*seq", "2*seq") at the planned sizes (NaN when unknown). */
function dimValue(d: number | string, dims: { batch: number; seq: number }): number {
  if (typeof d === "number") return d;
  return d.split("*").reduce((p, part) => {
    const v = part === "batch" ? dims.batch : part === "seq" ? dims.seq : Number(part);
    return p * v;
  }, 1);
}
