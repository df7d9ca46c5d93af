/**
 * @module Runs a model's graphs on a backend: compiles the logits and loss/gradient graphs once
 * (lazily, through the compile seam) and feeds weights + a token batch each call.
 */
import type { Batch } from "../data/batch.ts";
import type { HostTensor } from "../runtime/session.ts";
import type { Backend } from "../runtime/backend.ts";
import { compile, type CompileOptions, type Program } from "../runtime/compile.ts";
import type { DecoderConfig } from "./config.ts";
import { buildForward, buildLossGraph, forwardInputs, gradName, INPUT_NAMES } from "./model.ts";
import type { LinearAdapter, ParamSpec } from "./params.ts";
import { scalarFeed, tokenFeeds, weightFeeds } from "./feeds.ts";
import type { QuantizedSource, Weights } from "./weights.ts";

export type { Weights };

/** Loss and gradients of one call. */
export interface LossAndGrad {
  /** Σ NLL · loss_weight. */
  lossSum: number;
  /** Number of target tokens in the batch. */
  tokens: number;
  /** Gradients by parameter name. */
  grads: Map<string, Float32Array>;
}

/** Program settings of a {@link ModelRunner}. */
export interface RunnerOptions {
  /** onnxruntime sessions without memory arena and memory patterns (see `SessionOptions.lowMemory`). */
  lowMemory?: boolean;
  /** Largest batch the runner will see (`{ batch, seq }`): `lean` sizes its arena for it at compile. */
  dims?: { batch: number; seq: number };
  /** `lean`: recompute block activations in the backward pass (default: on — the lower peak). */
  recompute?: boolean;
}

/** Holds a model's config, specs and compiled sessions for one backend. */
export class ModelRunner {
  #logits?: Promise<Program>;
  #loss?: Promise<Program>;
  #evalLoss?: Promise<Program>;
  #trainable: string[] = [];
  readonly specs: ParamSpec[];

  constructor(
    readonly config: DecoderConfig,
    readonly backend: Backend = "wasm",
    readonly trainable?: (name: string) => boolean,
    readonly adapter?: LinearAdapter,
    readonly source?: QuantizedSource,
    readonly options: RunnerOptions = {},
  ) {
    this.specs = buildForward(config, forwardInputs(), adapter, source?.source).params.specs;
  }

  /** Names of the parameters that get gradients. */
  get trainableNames(): string[] {
    return this.#trainable;
  }

  #compileOptions(): CompileOptions {
    const d = this.options.dims;
    return {
      backend: this.backend,
      lowMemory: this.options.lowMemory,
      dims: d && { batch: d.batch, seq: d.seq },
      recompute: this.options.recompute,
    };
  }

  #feeds(w: Weights, b: Batch, extra: Record<string, HostTensor> = {}): Record<string, HostTensor> {
    return weightFeeds(this.specs, w, { ...extra, ...tokenFeeds(b) }, this.source);
  }

  /** Logits (B,T,V) of a batch. */
  async logits(w: Weights, b: Batch): Promise<HostTensor> {
    const { logits } = buildForward(this.config, forwardInputs(), this.adapter, this.source?.source);
    this.#logits ??= compile({ logits }, this.#compileOptions());
    const res = await (await this.#logits).run(this.#feeds(w, b), ["logits"]);
    return res.logits;
  }

  /**
   * Σ NLL·weight over the batch's target tokens and its gradients (weight defaults to 1/tokens). With
   * `onGrad`, each gradient goes to it as soon as it is final (a view valid during the call only: on
   * `lean` the full gradient set never exists at once) and `grads` comes back empty.
   */
  async lossAndGrad(
    w: Weights,
    b: Batch,
    weight: number = 1 / Math.max(1, b.targetTokens),
    extra: Record<string, HostTensor> = {},
    onGrad?: (name: string, g: Float32Array) => void,
  ): Promise<LossAndGrad> {
    if (!this.#loss) {
      const g = buildLossGraph(this.config, {
        trainable: this.trainable,
        adapter: this.adapter,
        source: this.source?.source,
      });
      this.#trainable = g.trainable;
      this.#loss = compile(g.outputs, this.#compileOptions());
    }
    const feeds = this.#feeds(w, b, extra);
    feeds[INPUT_NAMES.lossWeight] = scalarFeed(weight);
    const grads = new Map<string, Float32Array>();
    const prefix = gradName("");
    const res = await (await this.#loss).run(
      feeds,
      undefined,
      onGrad && {
        onOutput: (name, t) => onGrad(name.slice(prefix.length), t.data as Float32Array),
        stream: (name) => name.startsWith(prefix),
      },
    );
    if (!onGrad) { for (const n of this.#trainable) grads.set(n, res[gradName(n)].data as Float32Array); }
    return {
      lossSum: (res.loss_sum.data as Float32Array)[0],
      tokens: (res.tokens.data as Float32Array)[0],
      grads,
    };
  }

  /** Σ NLL over the batch's target tokens, forward only (no gradient graph). */
  async lossSum(w: Weights, b: Batch): Promise<{ lossSum: number; tokens: number }> {
    this.#evalLoss ??= compile(
      buildLossGraph(this.config, {
        trainable: () => false,
        adapter: this.adapter,
        source: this.source?.source,
      })
        .outputs,
      this.#compileOptions(),
    );
    const feeds = this.#feeds(w, b);
    feeds[INPUT_NAMES.lossWeight] = scalarFeed(1);
    const res = await (await this.#evalLoss).run(feeds);
    return { lossSum: (res.loss_sum.data as Float32Array)[0], tokens: (res.tokens.data as Float32Array)[0] };
  }

  /** Free compiled programs. */
  async release(): Promise<void> {
    for (const p of [this.#logits, this.#loss, this.#evalLoss]) if (p) await (await p).release();
    this.#logits = this.#loss = this.#evalLoss = undefined;
  }
}
