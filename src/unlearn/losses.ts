/**
 * @module Unlearning losses as gradient graphs, composable as γ·L_forget + α·L_retain (algorithms.md §7.3,
 * open-unlearning `grad_ascent.py`, `grad_diff.py`, `npo.py`, `trainer/utils.py`):
 * - GA: L_f = −NLL(θ; D_f), token mean over answer tokens.
 * - NPO (Zhang et al. 2024): ℓ_b = Σ_t CE (per-sequence sum), logr_b = ref_b − ℓ_b,
 *   L_f = −(2/β)·mean_b logσ(−β·logr_b), β = 0.1; ref = the frozen original model.
 * - retain NLL: α·NLL(θ; D_r) (GradDiff's default retain term).
 * - retain KL: α·KL(p_ref ‖ p_θ), summed over the vocabulary, mean over target positions (open-unlearning's
 *   `compute_kl_divergence` averages over all positions; we mask to positions with a label).
 * Defaults γ = α = 1 (open-unlearning `GradDiff.yaml`, `NPO.yaml`). GradDiff = GA + retain NLL.
 */
import { z } from "npm:zod@4.6.7";
import type { Tensor } from "../graph/ir.ts";
import { grad } from "../graph/autodiff.ts";
import {
  add,
  cast,
  constant,
  equal,
  exp,
  gatherLast,
  input,
  less,
  log,
  logSoftmax,
  mul,
  neg,
  not,
  reduceSum,
  sub,
  where,
} from "../graph/ops.ts";
import type { Batch } from "../data/batch.ts";
import type { DecoderConfig } from "../models/config.ts";
import { buildForward, forwardInputs, gradName, INPUT_NAMES } from "../models/model.ts";
import type { ParamSpec } from "../models/params.ts";
import type { Weights } from "../models/weights.ts";
import type { HostTensor } from "../runtime/session.ts";
import type { Backend } from "../runtime/backend.ts";
import { compile, type Program } from "../runtime/compile.ts";
import { tokenFeeds, weightFeeds } from "../models/feeds.ts";

/** Forget-set terms. */
export const FORGET_LOSSES = ["ga", "npo"] as const;
/** Retain-set terms. */
export const RETAIN_LOSSES = ["none", "nll", "kl"] as const;

/** A composed unlearning loss γ·L_forget + α·L_retain. */
export const LossSpecSchema = z.object({
  forget: z.enum(FORGET_LOSSES).default("ga").describe("forget term: gradient ascent or NPO"),
  retain: z.enum(RETAIN_LOSSES).default("nll").describe(
    "retain term: none, NLL (GradDiff) or KL to the original",
  ),
  gamma: z.number().nonnegative().default(1).describe("weight γ of the forget term (open-unlearning 1)"),
  alpha: z.number().nonnegative().default(1).describe("weight α of the retain term (open-unlearning 1)"),
  beta: z.number().positive().default(0.1).describe("NPO β (open-unlearning 0.1)"),
});
/** Parsed loss spec. */
export type LossSpec = z.infer<typeof LossSpecSchema>;

/** Per-position NLL (B,T) masked to target positions, and the mask (B,T) as float. */
export function tokenNll(logits: Tensor, labels: Tensor): { nll: Tensor; mask: Tensor; logp: Tensor } {
  const valid = not(equal(labels, constant(-100, [], "int64")));
  const safe = where(valid, labels, constant(0, [], "int64"));
  const logp = logSoftmax(logits, -1);
  const mask = cast(valid, "float32");
  return { nll: mul(neg(gatherLast(logp, safe)), mask), mask, logp };
}

/** log σ(x), stable: min(x, 0) − log(1 + e^−|x|). */
export function logSigmoid(x: Tensor): Tensor {
  const negative = less(x, 0);
  return sub(where(negative, x, 0), log(add(exp(neg(where(negative, neg(x), x))), 1)));
}

/** What a loss graph outputs besides gradients. */
type Kind = "nll" | "npo" | "kl" | "seq";

/** Build one loss graph of `kind` (gradients for `trainable` unless `kind` is "seq"). */
export function buildUnlearnGraph(
  config: DecoderConfig,
  kind: Kind,
  trainable: (name: string) => boolean = () => true,
): { outputs: Record<string, Tensor>; specs: ParamSpec[]; trainable: string[] } {
  const { logits, params } = buildForward(config, forwardInputs(), undefined, undefined, kind !== "seq");
  const labels = input(INPUT_NAMES.labels, "int64", ["batch", "seq"]);
  const { nll, mask, logp } = tokenNll(logits, labels);
  const seqNll = reduceSum(nll, [1]), seqCount = reduceSum(mask, [1]);
  const outputs: Record<string, Tensor> = { seq_nll: seqNll, seq_tokens: seqCount };
  let loss: Tensor | undefined;
  const scale = input("loss_weight", "float32", []);
  if (kind === "nll") loss = mul(reduceSum(seqNll, [0]), scale);
  if (kind === "npo") {
    // Σ_b logσ(β(ℓ_b − ref_b)) · scale, scale = −2/(β·B) for NPO's −(2/β)·mean_b
    const ref = input("ref_seq_nll", "float32", ["batch"]), beta = input("npo_beta", "float32", []);
    loss = mul(reduceSum(logSigmoid(mul(sub(seqNll, ref), beta)), [0]), scale);
  }
  if (kind === "kl") {
    // Σ_positions mask·Σ_v p_ref (log p_ref − log p_θ) · scale
    const refLogits = input("ref_logits", "float32", ["batch", "seq", config.vocabSize]);
    const refLogp = logSoftmax(refLogits, -1);
    const kl = reduceSum(mul(exp(refLogp), sub(refLogp, logp)), [2]);
    loss = mul(reduceSum(mul(kl, mask), [0, 1]), scale);
    outputs.kl_sum = reduceSum(mul(kl, mask), [0, 1]);
  }
  const names = kind === "seq" ? [] : params.specs.map((s) => s.name).filter(trainable);
  if (loss) {
    outputs.loss = loss;
    const gs = grad(loss, names.map((n) => params.inputs.get(n)!));
    names.forEach((n, i) => {
      if (!gs[i]) throw new Error(`parameter ${n} does not affect the loss`);
      outputs[gradName(n)] = gs[i]!;
    });
  }
  return { outputs, specs: params.specs, trainable: names };
}

/** Per-sequence NLL sums and target counts. */
export interface SeqNll {
  sum: Float32Array;
  count: Float32Array;
}

/** Loss and gradients of one graph call. */
export interface TermResult extends SeqNll {
  loss: number;
  grads: Map<string, Float32Array>;
}

/** Runs the unlearning loss graphs of one model on one backend (programs compiled lazily, per kind). */
export class LossRunner {
  readonly #programs = new Map<Kind, Promise<Program>>();
  #trainable: string[] = [];
  readonly specs: ParamSpec[];

  constructor(
    readonly config: DecoderConfig,
    readonly backend: Backend = "wasm",
    readonly trainable: (name: string) => boolean = () => true,
  ) {
    this.specs = buildForward(config).params.specs;
  }

  /** Names of the parameters that get gradients. */
  get trainableNames(): string[] {
    return this.#trainable.length ? this.#trainable : this.specs.map((s) => s.name).filter(this.trainable);
  }

  async #run(kind: Kind, w: Weights, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    let s = this.#programs.get(kind);
    if (!s) {
      const g = buildUnlearnGraph(this.config, kind, this.trainable);
      if (kind !== "seq") this.#trainable = g.trainable;
      this.#programs.set(kind, s = compile(g.outputs, { backend: this.backend }));
    }
    return await (await s).run(weightFeeds(this.specs, w, feeds));
  }

  #result(res: Record<string, HostTensor>): TermResult {
    const grads = new Map<string, Float32Array>();
    for (const n of this.#trainable) grads.set(n, res[gradName(n)].data as Float32Array);
    return {
      loss: (res.loss.data as Float32Array)[0],
      sum: res.seq_nll.data as Float32Array,
      count: res.seq_tokens.data as Float32Array,
      grads,
    };
  }

  /** Per-sequence NLL sums and target counts, forward only. */
  async seqNll(w: Weights, b: Batch, labels?: BigInt64Array): Promise<SeqNll> {
    const res = await this.#run("seq", w, tokenFeeds(b, labels));
    return { sum: res.seq_nll.data as Float32Array, count: res.seq_tokens.data as Float32Array };
  }

  /** `scale`·Σ NLL over target tokens and its gradients (GA: scale = −γ/N; retain NLL: α/N). */
  async nll(w: Weights, b: Batch, scale: number, labels?: BigInt64Array): Promise<TermResult> {
    const feeds = tokenFeeds(b, labels);
    feeds.loss_weight = { dtype: "float32", shape: [], data: Float32Array.of(scale) };
    return this.#result(await this.#run("nll", w, feeds));
  }

  /** NPO term −(2/β)·mean_b logσ(β(ℓ_b − ref_b))·γ and its gradients. */
  async npo(w: Weights, b: Batch, refSeqNll: Float32Array, beta: number, gamma = 1): Promise<TermResult> {
    const feeds = tokenFeeds(b);
    feeds.ref_seq_nll = { dtype: "float32", shape: [b.B], data: refSeqNll };
    feeds.npo_beta = { dtype: "float32", shape: [], data: Float32Array.of(beta) };
    feeds.loss_weight = { dtype: "float32", shape: [], data: Float32Array.of((-2 / (beta * b.B)) * gamma) };
    return this.#result(await this.#run("npo", w, feeds));
  }

  /** `scale`·Σ_target positions KL(p_ref ‖ p_θ) given the reference logits (B,T,V), and its gradients. */
  async kl(w: Weights, b: Batch, refLogits: Float32Array, scale: number): Promise<TermResult> {
    const feeds = tokenFeeds(b);
    feeds.ref_logits = { dtype: "float32", shape: [b.B, b.T, this.config.vocabSize], data: refLogits };
    feeds.loss_weight = { dtype: "float32", shape: [], data: Float32Array.of(scale) };
    return this.#result(await this.#run("kl", w, feeds));
  }

  /** Free compiled programs. */
  async release(): Promise<void> {
    for (const s of this.#programs.values()) await (await s).release();
    this.#programs.clear();
  }
}

/** The value and gradient of a composed loss on one forget and one retain batch. */
export interface ComposedResult {
  /** γ·L_forget + α·L_retain. */
  loss: number;
  forgetTerm: number;
  retainTerm: number;
  /** Mean token NLL of the forget batch (at the current weights). */
  forgetNll: number;
  grads: Map<string, Float32Array>;
}

/**
 * γ·L_forget(forget batch) + α·L_retain(retain batch) and its gradients. `ref` holds the original
 * weights (NPO's reference and the KL target) and `logits` computes reference logits for the KL term.
 *
 * @example
 * ```ts ignore
 * const spec = LossSpecSchema.parse({ forget: "npo", retain: "kl" });
 * const r = await composedLoss(runner, spec, weights, original, forgetBatch, retainBatch, logitsOf);
 * ```
 */
export async function composedLoss(
  runner: LossRunner,
  spec: LossSpec,
  w: Weights,
  ref: Weights,
  forget: Batch,
  retain: Batch | undefined,
  refLogits: (b: Batch) => Promise<Float32Array>,
): Promise<ComposedResult> {
  const f = spec.forget === "npo"
    ? await runner.npo(w, forget, (await runner.seqNll(ref, forget)).sum, spec.beta, spec.gamma)
    : await runner.nll(w, forget, -spec.gamma / Math.max(1, forget.targetTokens));
  const forgetNll = f.sum.reduce((a, x) => a + x, 0) / Math.max(1, forget.targetTokens);
  let r: TermResult | undefined;
  if (retain && spec.retain !== "none" && spec.alpha > 0) {
    const scale = spec.alpha / Math.max(1, retain.targetTokens);
    r = spec.retain === "nll"
      ? await runner.nll(w, retain, scale)
      : await runner.kl(w, retain, await refLogits(retain), scale);
  }
  const grads = f.grads;
  if (r) {
    for (const [k, g] of r.grads) {
      const a = grads.get(k)!;
      for (let i = 0; i < a.length; i++) a[i] += g[i];
    }
  }
  return { loss: f.loss + (r?.loss ?? 0), forgetTerm: f.loss, retainTerm: r?.loss ?? 0, forgetNll, grads };
}
