/**
 * @module The post-training loop: seeded data order, micro-batches with gradient accumulation
 * (the loss is the mean token NLL over the whole effective batch), global-norm clipping, warm-up +
 * schedule, AdamW, NaN/Inf guard, and checkpoints that restore the exact trajectory.
 */
import { type Batch, makeBatch } from "../data/batch.ts";
import { shuffledOrder } from "../data/order.ts";
import type { Example } from "../data/example.ts";
import { AdamW } from "../optim/adamw.ts";
import { Sophia } from "../optim/sophia.ts";
import type { Projector } from "../optim/projector.ts";
import { QuantizedWeights } from "../optim/int8_weights.ts";
import { gnbDiagonal } from "../curvature/hutchinson.ts";
import { clipGradNorm, scaleToNorm } from "../optim/clip.ts";
import { lrAt } from "../optim/schedule.ts";
import type { DecoderConfig } from "../models/config.ts";
import { ModelRunner } from "../models/runner.ts";
import type { QuantizedSource, Weights } from "../models/weights.ts";
import type { LinearAdapter } from "../models/params.ts";
import { DROPOUT_SEED } from "../lora/lora.ts";
import { type Backend, DEFAULT_BACKEND } from "../runtime/backend.ts";
import { type TrainOptions, type TrainOptionsInput, TrainOptionsSchema } from "./options.ts";

/** Which parameters train and an optional linear-layer adapter (LoRA); default: all, none. */
export interface TrainableModel {
  trainable?: (name: string) => boolean;
  adapter?: LinearAdapter;
  /** Gradient projectors per weight (GaLore, Q-GaLore, DCT); AdamW keeps their moments low-rank. */
  projectors?: Map<string, Projector>;
  /** Weights that live as INT8 codes (Q-GaLore); `weights` must then be a {@link QuantizedWeights}. */
  int8?: { source: QuantizedSource; groupSize: number };
  /**
   * Trade some speed for a lower peak RSS: onnxruntime sessions without memory arena and memory
   * patterns (node: ≈ −2.4 GB at the smollm shape, ≈ 15 % slower forward+backward). Default: the
   * `POSTTRAIN_LOW_MEMORY=1` environment variable.
   */
  lowMemory?: boolean;
}

/** Optional per-step hooks of the {@link Trainer}; without them it trains on every drawn row. */
export interface TrainerHooks {
  /**
   * Pick the rows a step trains on from its `batchSize·gradAccum` candidates in the seeded order
   * (mini-batch coresets, e.g. CoLM); micro-batches of at most `batchSize` rows are cut from the result.
   */
  selectBatch?: (
    candidates: Example[],
    ctx: { step: number; weights: Weights },
  ) => Example[] | Promise<Example[]>;
  /** State the hooks carry across steps (e.g. CoLM's feature moments); checkpoints store it. */
  state?: () => HookState;
  /** Restore what {@link TrainerHooks.state} returned (on resume from a checkpoint). */
  loadState?: (s: HookState) => void;
  /** Free what the hooks hold (sessions); {@link Trainer.release} calls it. */
  release?: () => Promise<void>;
}

/** Serializable hook state: f32 tensors plus string metadata (a checkpoint's `hooks.safetensors`). */
export interface HookState {
  tensors: Record<string, Float32Array>;
  meta: Record<string, string>;
}

/** What one optimizer step reports. */
export interface StepInfo {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  tokensPerS: number;
  etaS: number;
}

/** Serializable trainer state besides weights and moments. */
export interface TrainerState {
  step: number;
  /** Position in the epoch's shuffled order. */
  cursor: number;
  epoch: number;
  losses: number[];
}

/** Fine-tunes all weights of a model with AdamW. */
export class Trainer {
  readonly opts: TrainOptions;
  readonly runner: ModelRunner;
  readonly optimizer: AdamW | Sophia;
  state: TrainerState = { step: 0, cursor: 0, epoch: 0, losses: [] };
  #order: number[];
  #tokens = 0;
  #seconds = 0;

  constructor(
    readonly config: DecoderConfig,
    readonly weights: Weights,
    readonly examples: Example[],
    opts: TrainOptionsInput = {},
    backend: Backend = DEFAULT_BACKEND,
    model: TrainableModel = {},
    readonly hooks: TrainerHooks = {},
  ) {
    if (examples.length === 0) throw new Error("no training rows");
    this.opts = TrainOptionsSchema.parse(opts);
    // the largest batch this run feeds: lean sizes its arena for it before the first step
    const seq = examples.reduce((m, e) => Math.max(m, e.inputIds.length), 1);
    this.runner = new ModelRunner(config, backend, model.trainable, model.adapter, model.int8?.source, {
      lowMemory: model.lowMemory,
      dims: { batch: this.opts.batchSize, seq },
    });
    const q = model.int8;
    const requantize = q && weights instanceof QuantizedWeights
      ? (name: string, w: Float32Array) => {
        // stochastic re-quantization: a stream per (seed, optimizer step, parameter), so resumes are exact
        if (weights.codes.has(name)) {
          weights.store(
            name,
            w,
            q.groupSize,
            this.opts.seed * 7919 + this.optimizer.step * 104729 + hashName(name),
          );
        }
      }
      : undefined;
    if (q && !requantize) throw new Error("int8 weights need a QuantizedWeights map");
    for (const s of this.runner.specs) {
      if (!weights.has(s.name)) throw new Error(`no initial value for parameter ${s.name}`);
    }
    const o = this.opts;
    this.optimizer = o.optimizer === "sophia"
      ? new Sophia({ beta1: o.beta1, beta2: o.beta2, rho: o.rho, weightDecay: o.weightDecay })
      : new AdamW({
        beta1: o.beta1,
        beta2: o.beta2,
        eps: o.eps,
        weightDecay: o.weightDecay,
        projectors: model.projectors,
        afterUpdate: requantize,
        releaseGrads: true, // the accumulated gradients are this step's own
        momentBits: o.momentBits,
      });
    this.#order = shuffledOrder(examples.length, o.seed);
  }

  /** The next `n` examples in the seeded order (wrapping into a reshuffled next epoch). */
  #take(n: number): Example[] {
    const out: Example[] = [];
    while (out.length < n) {
      if (this.state.cursor >= this.#order.length) {
        this.state.epoch++;
        this.state.cursor = 0;
        this.#order = shuffledOrder(this.examples.length, this.opts.seed + this.state.epoch);
      }
      out.push(this.examples[this.#order[this.state.cursor++]]);
    }
    return out;
  }

  /** One optimizer step over `gradAccum` micro-batches. */
  async step(): Promise<StepInfo> {
    const o = this.opts, t0 = performance.now();
    const step = this.state.step + 1;
    let micro: Batch[];
    if (this.hooks.selectBatch) {
      const picked = await this.hooks.selectBatch(this.#take(o.batchSize * o.gradAccum), {
        step,
        weights: this.weights,
      });
      if (picked.length === 0) throw new Error(`step ${step}: the batch selector returned no rows`);
      micro = [];
      for (let i = 0; i < picked.length; i += o.batchSize) {
        micro.push(makeBatch(picked.slice(i, i + o.batchSize), 0, this.#padTo));
      }
    } else {micro = Array.from({ length: o.gradAccum }, () =>
        makeBatch(this.#take(o.batchSize), 0, this.#padTo));}
    const tokens = micro.reduce((s, b) => s + b.targetTokens, 0);
    if (tokens === 0) throw new Error(`step ${step}: the batch has no target tokens`);
    await this.#adopt();
    let loss = 0;
    const acc = new Map<string, Float32Array>();
    const opt = this.optimizer;
    // one micro-batch and AdamW: take each gradient as it is produced, projected at once (GaLore & co.),
    // so the full gradient set never exists; the clip scale (from the streamed norm) applies after
    const streaming = micro.length === 1 && opt instanceof AdamW && this.runner.backend === "lean";
    // without clipping nothing needs all gradients first: each one updates its weight as it arrives
    const immediate = streaming && o.maxGradNorm === 0;
    const lr = lrAt(o.schedule, o.lr, this.state.step, o.steps, o.warmup);
    if (immediate) (opt as AdamW).beginStep();
    let sq = 0;
    for (const [i, b] of micro.entries()) {
      const seed = BigInt(o.seed) * 1_000_003n + BigInt(step) * 1024n + BigInt(i); // per-step dropout masks
      const extra = { [DROPOUT_SEED]: { dtype: "int64" as const, shape: [], data: BigInt64Array.of(seed) } };
      const onGrad = streaming
        ? (name: string, g: Float32Array) => {
          let s2 = 0;
          for (let j = 0; j < g.length; j++) s2 += g[j] * g[j];
          sq += s2;
          if (!immediate) return void acc.set(name, (opt as AdamW).prepare(name, g));
          if (!Number.isFinite(s2)) {
            throw new Error(
              `step ${step}: gradient of ${name} is not finite; this step's updates are incomplete`,
            );
          }
          (opt as AdamW).updateOne(this.weights, name, g, lr);
        }
        : undefined;
      const r = await this.runner.lossAndGrad(this.weights, b, 1 / tokens, extra, onGrad);
      loss += r.lossSum;
      for (const [k, g] of r.grads) {
        const a = acc.get(k);
        if (!a) acc.set(k, g);
        else for (let i = 0; i < g.length; i++) a[i] += g[i];
      }
    }
    const gradNorm = streaming
      ? scaleToNorm(acc.values(), Math.sqrt(sq), o.maxGradNorm)
      : clipGradNorm(acc.values(), o.maxGradNorm);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      throw new Error(
        `step ${step}: loss is ${loss}, gradient norm ${gradNorm} (not finite); weights left unchanged`,
      );
    }
    if (opt instanceof Sophia && (step - 1) % o.hessInterval === 0) {
      // Sophia-G: a Gauss-Newton-Bartlett estimate on this step's first micro-batch, labels sampled from the model
      opt.updateHessian(await gnbDiagonal(this.runner, this.weights, micro[0], o.seed * 7919 + step));
    }
    if (opt instanceof AdamW) {
      if (!immediate) opt.update(this.weights, acc, lr, streaming);
    } else opt.update(this.weights, acc, lr);
    this.state.step = step;
    this.state.losses.push(loss);
    const dt = (performance.now() - t0) / 1000;
    this.#tokens += micro.reduce((s, b) => s + b.B * b.T, 0);
    this.#seconds += dt;
    const tokensPerS = this.#tokens / this.#seconds;
    return { step, loss, lr, gradNorm, tokens, tokensPerS, etaS: (this.#seconds / step) * (o.steps - step) };
  }

  /** Run until `opts.steps` (or `until`), reporting every `logEvery` steps; stops early on `signal`. */
  async run(
    onStep?: (s: StepInfo) => void,
    until = this.opts.steps,
    signal?: AbortSignal,
  ): Promise<StepInfo[]> {
    const out: StepInfo[] = [];
    while (this.state.step < until && !signal?.aborted) {
      const s = await this.step();
      out.push(s);
      if (onStep && (s.step % this.opts.logEvery === 0 || s.step === until)) onStep(s);
    }
    return out;
  }

  /** Restore the data order for `state` (call after loading weights and moments). */
  restore(state: TrainerState): void {
    this.state = structuredClone(state);
    this.#order = shuffledOrder(this.examples.length, this.opts.seed + state.epoch);
  }

  /** lean plans per batch shape: lengths in steps of 16 keep the number of plans small */
  get #padTo(): number {
    return this.runner.backend === "lean" ? 16 : 1;
  }

  /** On `lean`, move the weights into the device's memory once (programs then read them in place). */
  async #adopt(): Promise<void> {
    if (this.#adopted || this.runner.backend !== "lean") return;
    const { sharedDevice } = await import("../runtime/lean/program.ts");
    const device = await sharedDevice();
    if (this.weights instanceof QuantizedWeights) {
      this.weights.adopt((a) => (device.owns(a) ? a : device.store(a)));
    } else device.adopt(this.weights);
    this.#adopted = true;
  }
  #adopted = false;

  /** Free compiled sessions (the trainer's and the hooks'). */
  async release(): Promise<void> {
    await this.runner.release();
    await this.hooks.release?.();
  }
}

/** FNV-1a hash of a parameter name (32-bit). */
function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
