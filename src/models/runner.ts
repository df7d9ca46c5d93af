/**
 * @module Runs a model's graphs on a backend: compiles the logits and loss/gradient graphs once
 * (lazily) and feeds weights + a token batch each call.
 */
import { lowerGraph } from "../graph/lower.ts";
import type { Batch } from "../data/batch.ts";
import { createSession, type HostTensor, type Session, type SessionOptions } from "../runtime/session.ts";
import type { Backend } from "../runtime/backend.ts";
import type { DecoderConfig } from "./config.ts";
import { buildForward, buildLossGraph, forwardInputs, gradName, INPUT_NAMES } from "./model.ts";
import type { LinearAdapter, ParamSpec } from "./params.ts";
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

/** Session settings of a {@link ModelRunner}. */
export interface RunnerOptions {
  /** Sessions without memory arena and memory patterns (see {@link SessionOptions.lowMemory}). */
  lowMemory?: boolean;
}

/** Holds a model's config, specs and compiled sessions for one backend. */
export class ModelRunner {
  #logits?: Promise<Session>;
  #loss?: Promise<Session>;
  #evalLoss?: Promise<Session>;
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

  #sessionOptions(): SessionOptions {
    return { backend: this.backend, lowMemory: this.options.lowMemory };
  }

  #tokenFeeds(b: Batch): Record<string, HostTensor> {
    const bt = [b.B, b.T];
    return {
      [INPUT_NAMES.inputIds]: { dtype: "int64", shape: bt, data: b.inputIds },
      [INPUT_NAMES.attentionMask]: { dtype: "int64", shape: bt, data: b.attentionMask },
      [INPUT_NAMES.positionIds]: { dtype: "int64", shape: bt, data: b.positionIds },
      [INPUT_NAMES.labels]: { dtype: "int64", shape: bt, data: b.labels },
    };
  }

  #weightFeeds(w: Weights, feeds: Record<string, HostTensor>): Record<string, HostTensor> {
    for (const s of this.specs) {
      if (this.source?.names.has(s.name)) {
        Object.assign(feeds, this.source.feeds(s.name, w));
        continue;
      }
      const data = w.get(s.name);
      if (!data) throw new Error(`missing weight ${s.name}`);
      feeds[s.name] = { dtype: "float32", shape: s.shape, data };
    }
    return feeds;
  }

  /** Logits (B,T,V) of a batch. */
  async logits(w: Weights, b: Batch): Promise<HostTensor> {
    const { logits } = buildForward(this.config, forwardInputs(), this.adapter, this.source?.source);
    this.#logits ??= createSession(lowerGraph({ logits }).bytes, this.#sessionOptions());
    const s = await this.#logits;
    const res = await s.run(this.#weightFeeds(w, this.#tokenFeeds(b)), ["logits"]);
    return res.logits;
  }

  /** Σ NLL·weight over the batch's target tokens and its gradients (weight defaults to 1/tokens). */
  async lossAndGrad(
    w: Weights,
    b: Batch,
    weight: number = 1 / Math.max(1, b.targetTokens),
    extra: Record<string, HostTensor> = {},
  ): Promise<LossAndGrad> {
    if (!this.#loss) {
      const g = buildLossGraph(this.config, {
        trainable: this.trainable,
        adapter: this.adapter,
        source: this.source?.source,
      });
      this.#trainable = g.trainable;
      this.#loss = createSession(lowerGraph(g.outputs).bytes, this.#sessionOptions());
    }
    const s = await this.#loss;
    const feeds = this.#weightFeeds(w, { ...extra, ...this.#tokenFeeds(b) });
    feeds[INPUT_NAMES.lossWeight] = { dtype: "float32", shape: [], data: new Float32Array([weight]) };
    const res = await s.run(feeds);
    const grads = new Map<string, Float32Array>();
    for (const n of this.#trainable) grads.set(n, res[gradName(n)].data as Float32Array);
    return {
      lossSum: (res.loss_sum.data as Float32Array)[0],
      tokens: (res.tokens.data as Float32Array)[0],
      grads,
    };
  }

  /** Σ NLL over the batch's target tokens, forward only (no gradient graph). */
  async lossSum(w: Weights, b: Batch): Promise<{ lossSum: number; tokens: number }> {
    this.#evalLoss ??= createSession(
      lowerGraph(
        buildLossGraph(this.config, {
          trainable: () => false,
          adapter: this.adapter,
          source: this.source?.source,
        })
          .outputs,
      ).bytes,
      this.#sessionOptions(),
    );
    const s = await this.#evalLoss;
    const feeds = this.#weightFeeds(w, this.#tokenFeeds(b));
    feeds[INPUT_NAMES.lossWeight] = { dtype: "float32", shape: [], data: new Float32Array([1]) };
    const res = await s.run(feeds);
    return { lossSum: (res.loss_sum.data as Float32Array)[0], tokens: (res.tokens.data as Float32Array)[0] };
  }

  /** Free compiled sessions. */
  async release(): Promise<void> {
    for (const p of [this.#logits, this.#loss, this.#evalLoss]) if (p) await (await p).release();
    this.#logits = this.#loss = this.#evalLoss = undefined;
  }
}
