/**
 * @module Text continuation: greedy or sampled (temperature, top-k, top-p) decoding with a KV
 * cache, so each new token costs one forward over one position. The cached graph is the
 * transformers.js causal-LM layout (see `buildCachedForward`), with weights as inputs.
 */
import type { HostTensor } from "../runtime/session.ts";
import { compile, type Program } from "../runtime/compile.ts";
import { weightFeeds } from "./feeds.ts";
import type { Backend } from "../runtime/backend.ts";
import type { DecoderConfig } from "./config.ts";
import { buildCachedForward, paramSpecs } from "./model.ts";
import type { ParamSpec } from "./params.ts";
import { ModelRunner } from "./runner.ts";
import type { Weights } from "./weights.ts";
import { makeBatch } from "../data/batch.ts";

/** Decoding options (HF `generate` names in camelCase). */
export interface GenerateOptions {
  maxNewTokens?: number;
  /** 0 = greedy (default). */
  temperature?: number;
  /** Keep the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set with cumulative probability ≥ p (1 = off). */
  topP?: number;
  seed?: number;
  /** Stop after this token (e.g. the tokenizer's EOS). */
  eosId?: number;
  /** false: re-run the whole prefix each step (reference path for tests). */
  useCache?: boolean;
}

/** Pick the next token from a logits row. */
export function sampleNext(logits: Float32Array, o: GenerateOptions, rand: () => number): number {
  const t = o.temperature ?? 0;
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  if (t <= 0) return best;
  let idx = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
  if (o.topK && o.topK > 0) idx = idx.slice(0, o.topK);
  const p = idx.map((i) => Math.exp((logits[i] - logits[best]) / t));
  const z = p.reduce((a, b) => a + b, 0);
  let keep = idx.length;
  if (o.topP !== undefined && o.topP < 1) {
    let c = 0;
    keep = idx.findIndex((_, j) => (c += p[j] / z) >= o.topP!) + 1 || idx.length;
  }
  const mass = p.slice(0, keep).reduce((a, b) => a + b, 0);
  let u = rand() * mass;
  for (let j = 0; j < keep; j++) if ((u -= p[j]) <= 0) return idx[j];
  return idx[keep - 1];
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), s | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const i64 = (xs: number[], shape: number[]): HostTensor => ({
  dtype: "int64",
  shape,
  data: BigInt64Array.from(xs, BigInt),
});

/** Generates continuations of token prompts for one model on one backend. */
export class Generator {
  #cached?: Promise<Program>;
  #plain?: ModelRunner;
  #specs?: ParamSpec[];

  constructor(readonly config: DecoderConfig, readonly backend: Backend = "wasm") {}

  /**
   * New token ids after `prompt` (the prompt is not included).
   *
   * @example
   * ```ts ignore
   * const ids = await new Generator(model.config).generate(model.weights, [1, 2, 3], { maxNewTokens: 20 });
   * ```
   */
  async generate(weights: Weights, prompt: number[], o: GenerateOptions = {}): Promise<number[]> {
    if (prompt.length === 0) throw new Error("prompt: at least one token is needed");
    const max = o.maxNewTokens ?? 32;
    if (prompt.length + max > this.config.maxPositions) {
      throw new Error(
        `prompt (${prompt.length} tokens) + max_new_tokens (${max}) exceeds the context (${this.config.maxPositions})`,
      );
    }
    const rand = seeded(o.seed ?? 0), V = this.config.vocabSize;
    const out: number[] = [];
    if (o.useCache === false) {
      this.#plain ??= new ModelRunner(this.config, this.backend);
      const seq = [...prompt];
      while (out.length < max) {
        const ids = Int32Array.from(seq);
        const b = makeBatch([{ inputIds: ids, labels: new Int32Array(ids.length).fill(-100), row: 0 }]);
        const l = (await this.#plain.logits(weights, b)).data as Float32Array;
        const next = sampleNext(l.subarray((seq.length - 1) * V, seq.length * V), o, rand);
        out.push(next);
        seq.push(next);
        if (next === o.eosId) break;
      }
      return out;
    }
    this.#cached ??= compile(buildCachedForward(this.config).outputs, { backend: this.backend });
    const s = await this.#cached;
    const { layers, kvHeads: K, headDim: E } = this.config;
    const feeds = weightFeeds(this.#specs ??= paramSpecs(this.config), weights);
    for (let i = 0; i < layers; i++) {
      for (const kv of ["key", "value"]) {
        feeds[`past_key_values.${i}.${kv}`] = {
          dtype: "float32",
          shape: [1, K, 0, E],
          data: new Float32Array(0),
        };
      }
    }
    let step = prompt, past = 0;
    while (out.length < max) {
      feeds.input_ids = i64(step, [1, step.length]);
      feeds.attention_mask = i64(Array(past + step.length).fill(1), [1, past + step.length]);
      feeds.position_ids = i64(step.map((_, j) => past + j), [1, step.length]);
      const r = await s.run(feeds);
      const l = r.logits.data as Float32Array;
      const next = sampleNext(l.subarray((step.length - 1) * V, step.length * V), o, rand);
      out.push(next);
      if (next === o.eosId) break;
      past += step.length;
      step = [next];
      for (let i = 0; i < layers; i++) {
        for (const kv of ["key", "value"]) feeds[`past_key_values.${i}.${kv}`] = r[`present.${i}.${kv}`];
      }
    }
    return out;
  }

  /** Free compiled programs. */
  async release(): Promise<void> {
    if (this.#cached) await (await this.#cached).release();
    await this.#plain?.release();
    this.#cached = this.#plain = undefined;
  }
}
