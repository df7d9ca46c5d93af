/**
 * @module Two unlearning benchmarks on a tiny LLaMA trained from scratch (original: every row; gold: the same
 * recipe without the forget rows), besides the default model's fictitious people (unlearn_data.ts):
 * - `verbmem` (verbatim memorization, as MUSE's VerbMem): random token sequences memorized whole; forget =
 *   `forget` of them; evaluation: the continuation after an 8-token prefix (ROUGE-L of the greedy
 *   continuation, truth ratio against continuations of never-seen sequences).
 * - `facts` (forget and retain share the format, differ in content): "BOS name₁ name₂ REL ?" → "v₁ v₂ =",
 *   4 relations, each with its own pool of value tokens, every entity with one value per relation; forget =
 *   every fact of `forget` entities. The gold model still knows the template, the pools and the end mark,
 *   so forgetting by breaking the format shows up against it. Truth ratio: other entities' values of the
 *   same relation as the wrong answers.
 * Both: holdout = never-seen rows of the same kind (membership non-members), `further` = new rows for a
 * fine-tune after unlearning, `relearn` = the forget rows split in two halves (attack on one, measure the
 * other). Token ids are the vocabulary; no tokenizer.
 */
import { mulberry32 } from "./corpus.ts";
import type { Example } from "../data/example.ts";
import { parseConfig } from "../models/config.ts";
import type { DecoderConfig } from "../models/config.ts";
import { paramSpecs } from "../models/model.ts";
import { initParams } from "../models/params.ts";
import type { Weights } from "../models/weights.ts";
import { Trainer } from "../train/trainer.ts";
import type { TrainOptionsInput } from "../train/options.ts";
import type { Backend } from "../runtime/backend.ts";

/** The tiny model's HF config (LLaMA, 2 layers, d 64, vocabulary 128). */
export const TINY_CONFIG: Record<string, unknown> = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 128,
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  rope_theta: 10000,
  tie_word_embeddings: false,
  bos_token_id: 0,
  eos_token_id: 0,
};

/** The tiny model's recipe (both the original and the gold model). */
export const TINY_TRAIN: TrainOptionsInput = {
  steps: 600,
  lr: 3e-3,
  batchSize: 16,
  warmup: 30,
  schedule: "cosine",
  seed: 1,
};
const INIT_SEED = 1;

/** A synthetic benchmark: rows to train / unlearn on and rows to evaluate. */
export interface SyntheticBenchmark {
  name: "verbmem" | "facts";
  /** Rows the original trains on = forget ∪ retain; the gold model trains on retain. */
  forget: Example[];
  retain: Example[];
  /** Answer-only views for evaluation (prompt masked). */
  forgetEval: Example[];
  retainEval: Example[];
  /** Never-seen rows of the same kind (answer-only), the membership test's non-members. */
  holdout: Example[];
  /** Never-seen rows with every token a target (general-text KL). */
  general: Example[];
  /** The same prompts with wrong answers, aligned with forgetEval / retainEval (truth ratio). */
  forgetWrong: Example[][];
  retainWrong: Example[][];
  /** New rows for a fine-tune after unlearning (the stored update is re-applied after it). */
  further: Example[];
  /** Training steps of the original and the gold model. */
  steps: number;
}

/** A row of `ids` whose targets are the tokens from `from` on (labels shifted: labels[t] = ids[t+1]). */
export function tokenRow(ids: readonly number[], from = 1, row = 0): Example {
  const inputIds = Int32Array.from(ids);
  const labels = Int32Array.from(ids, (_, t) => (t + 1 < ids.length && t + 1 >= from ? ids[t + 1] : -100));
  return { inputIds, labels, row };
}

const BOS = 0;

/**
 * `verbmem`: `n` random sequences of `length` tokens (ids 1…127 after BOS), the first `forget` of them to
 * forget; evaluation prompts are the first `prefix` tokens.
 *
 * @example
 * ```ts
 * const b = verbmemBenchmark();
 * b.forget.length; // 6
 * ```
 */
export function verbmemBenchmark(
  o: { n?: number; forget?: number; length?: number; prefix?: number; seed?: number } = {},
): SyntheticBenchmark {
  const n = o.n ?? 48, k = o.forget ?? 6, len = o.length ?? 32, prefix = o.prefix ?? 8;
  const r = mulberry32(o.seed ?? 4242);
  const seq = () => [BOS, ...Array.from({ length: len - 1 }, () => 1 + Math.floor(r() * 127))];
  const seen = Array.from({ length: n }, seq), unseen = Array.from({ length: 24 }, seq);
  // targets from the second token on: the first one after BOS is the sequence's unpredictable key
  const whole = (s: number[][]) => s.map((x, i) => tokenRow(x, 2, i));
  const answer = (s: number[][]) => s.map((x, i) => tokenRow(x, prefix, i));
  // wrong continuations: never-seen sequences' tails after the same prefix
  const wrong = (s: number[][]) =>
    [0, 1, 2].map((j) =>
      s.map((x, i) => tokenRow([...x.slice(0, prefix), ...unseen[(i + 5 * j) % 12].slice(prefix)], prefix, i))
    );
  const forget = seen.slice(0, k), retain = seen.slice(k);
  return {
    name: "verbmem",
    forget: whole(forget),
    retain: whole(retain),
    forgetEval: answer(forget),
    retainEval: answer(retain),
    holdout: answer(unseen.slice(0, 12)),
    general: whole(unseen.slice(0, 12)),
    forgetWrong: wrong(forget),
    retainWrong: wrong(retain),
    further: whole(unseen.slice(12)),
    steps: 600,
  };
}

/** `facts` vocabulary: BOS 0, "?" 1, "=" 2, relations 3–6, names 10–59, values of relation r 60 + 12r …. */
const Q = 1, END = 2, REL = 3, NAMES = 10, N_NAMES = 50, VALUES = 60, POOL = 12, RELATIONS = 4;

/**
 * `facts`: `n` entities (2 name tokens each) with a 2-token value per relation; the last `forget` entities
 * are forgotten. `holdout` and `further` are new entities.
 *
 * @example
 * ```ts
 * const b = factsBenchmark();
 * b.forget.length; // 24: 6 entities × 4 relations
 * ```
 */
export function factsBenchmark(o: { n?: number; forget?: number; seed?: number } = {}): SyntheticBenchmark {
  const n = o.n ?? 64, k = o.forget ?? 6, extra = 16;
  const r = mulberry32(o.seed ?? 777);
  const pick = (m: number) => Math.floor(r() * m);
  const names = new Set<string>();
  const entities = Array.from({ length: n + extra }, () => {
    let a = 0, b = 0;
    do (a = NAMES + pick(N_NAMES), b = NAMES + pick(N_NAMES)); while (a === b || names.has(`${a},${b}`));
    names.add(`${a},${b}`);
    const values = Array.from(
      { length: RELATIONS },
      (_, rel) => [VALUES + POOL * rel + pick(POOL), VALUES + POOL * rel + pick(POOL)],
    );
    return { name: [a, b], values };
  });
  type Entity = typeof entities[number];
  const fact = (
    e: Entity,
    rel: number,
    value = e.values[rel],
  ) => [BOS, ...e.name, REL + rel, Q, ...value, END];
  const prompt = 5; // BOS n₁ n₂ REL ? | v₁ v₂ =
  const rows = (es: Entity[], from: number) =>
    es.flatMap((e) => Array.from({ length: RELATIONS }, (_, rel) => fact(e, rel))).map((x, i) =>
      tokenRow(x, from, i)
    );
  const seen = entities.slice(0, n), unseen = entities.slice(n);
  const forget = seen.slice(n - k), retain = seen.slice(0, n - k);
  // wrong answers: the values other entities (of the same split) have for the same relation
  const wrong = (es: Entity[]) =>
    [1, 2, 3].map((j) =>
      es.flatMap((e, i) =>
        Array.from(
          { length: RELATIONS },
          (_, rel) => fact(e, rel, seen[(i + 1 + ((j * 13 + rel * 7) % (n - k - 1))) % (n - k)].values[rel]),
        )
      ).map((x, i) => tokenRow(x, prompt, i))
    );
  return {
    name: "facts",
    forget: rows(forget, prompt),
    retain: rows(retain, prompt),
    forgetEval: rows(forget, prompt),
    retainEval: rows(retain, prompt),
    holdout: rows(unseen.slice(0, 8), prompt),
    general: rows(unseen.slice(0, 8), 1),
    forgetWrong: wrong(forget),
    retainWrong: wrong(retain),
    further: rows(unseen.slice(8), prompt),
    steps: 1200,
  };
}

/** The tiny model's parsed config. */
export const tinyConfig = (): DecoderConfig => parseConfig(TINY_CONFIG);

/**
 * Train the tiny model from its fixed init on `rows` with {@link TINY_TRAIN} (override with `opts`).
 *
 * @example
 * ```ts ignore
 * const original = await trainTiny([...b.forget, ...b.retain], { backend: "lean" });
 * ```
 */
export async function trainTiny(
  rows: Example[],
  o: { backend?: Backend; opts?: TrainOptionsInput; log?: (s: string) => void } = {},
): Promise<{ weights: Weights; loss: number; seconds: number }> {
  const t0 = performance.now(), config = tinyConfig();
  const weights = initParams(paramSpecs(config), INIT_SEED);
  const trainer = new Trainer(config, weights, rows, { ...TINY_TRAIN, ...o.opts }, o.backend ?? "lean");
  const info = await trainer.run((s) => {
    if (s.step % 100 === 0) o.log?.(`tiny model step ${s.step} loss ${s.loss.toFixed(4)}`);
  });
  await trainer.release();
  return { weights, loss: info.at(-1)!.loss, seconds: (performance.now() - t0) / 1000 };
}
