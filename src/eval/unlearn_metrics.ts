/**
 * @module Unlearning metrics of one model against the original and the retrained (gold) model
 * (algorithms.md §10; TOFU, Maini et al. 2024; open-unlearning):
 * - forget / retain NLL: mean token NLL over answer tokens; accuracy: share of answer tokens whose argmax
 *   (teacher forcing) is the answer token, and exact match: rows whose every answer token is the argmax
 *   (= greedy decoding reproduces the answer).
 * - KL_S(A‖B) = mean_{x∈S} (1/|T_x|) Σ_{t∈T_x} KL(p_A(·|x_<t) ‖ p_B(·|x_<t)) over answer positions and the full
 *   vocabulary (§10.2), computed in f64 from f32 log-softmax; retain KL = KL_retain(original ‖ model).
 * - gap closed: NLL share (L_f(model) − L_f(orig)) / (L_f(retrain) − L_f(orig)), and in output space
 *   1 − KL_f(retrain ‖ model) / KL_f(retrain ‖ orig).
 * - truth ratio, forget quality (KS p-value vs the retrained model's forget truth ratios), and the
 *   loss-based membership-inference AUC of forget rows (members) against holdout rows (non-members).
 * - open-unlearning's figures (memorization.ts, mia.ts): exact memorization and extraction strength of the
 *   forget answers, ROUGE-L recall of greedy answers, privleak (Min-K%++ AUC relative to the retrained
 *   model's), and model utility = harmonic mean of the retain rows' probability exp(−avg NLL), ROUGE-L recall
 *   and truth ratio (true better) — TOFU's retain triple (its real-authors and world-facts sets have no
 *   counterpart here).
 */
import { makeBatch } from "../data/batch.ts";
import type { Example } from "../data/example.ts";
import type { ModelRunner } from "../models/runner.ts";
import type { Weights } from "../models/weights.ts";
import type { Generator } from "../models/generate.ts";
import { exactMemorization, extractionStrength, rougeL } from "./memorization.ts";
import { miaAuc, minKppScore, minKppToken, privleak } from "./mia.ts";
import { auc, harmonicMean, ksTest, truthRatio, truthRatioAggregates } from "./unlearn_stats.ts";

/** Per-row outputs of a model on a set of rows. */
export interface RowOutputs {
  /** Σ NLL over answer tokens, per row. */
  nll: Float64Array;
  /** Answer tokens per row. */
  tokens: Int32Array;
  /** Answer tokens whose argmax is right, per row. */
  correct: Int32Array;
  /** Per row, per answer token: 1 where the teacher-forced argmax is the answer token. */
  hits: Uint8Array[];
  /** Per row, per answer token: the Min-K%++ z-score (mia.ts). */
  zpp: Float32Array[];
  /** Log-probabilities at each answer position (tokens × V), per row, when kept. */
  logp?: Float32Array[];
  /** Vocabulary size V. */
  vocab: number;
}

/**
 * Run `rows` through a model (batches of `batchSize`) and collect per-row NLL, accuracy and (optionally) the
 * answer-position distributions.
 *
 * @example
 * ```ts ignore
 * const out = await rowOutputs(runner, weights, rows, { keepDist: true });
 * ```
 */
export async function rowOutputs(
  runner: ModelRunner,
  w: Weights,
  rows: Example[],
  o: { keepDist?: boolean; batchSize?: number } = {},
): Promise<RowOutputs> {
  const n = rows.length, V = runner.config.vocabSize, bs = o.batchSize ?? 16;
  const out: RowOutputs = {
    nll: new Float64Array(n),
    tokens: new Int32Array(n),
    correct: new Int32Array(n),
    hits: [],
    zpp: [],
    logp: o.keepDist ? [] : undefined,
    vocab: V,
  };
  for (let s = 0; s < n; s += bs) {
    const chunk = rows.slice(s, s + bs), b = makeBatch(chunk);
    const logits = (await runner.logits(w, b)).data as Float32Array;
    chunk.forEach((e, r) => {
      const keep: number[] = [];
      for (let t = 0; t < e.labels.length; t++) if (e.labels[t] !== -100) keep.push(t);
      const dist = o.keepDist ? new Float32Array(keep.length * V) : undefined;
      const hits = new Uint8Array(keep.length), zpp = new Float32Array(keep.length);
      const lp = new Float64Array(V);
      keep.forEach((t, k) => {
        const row = logits.subarray((r * b.T + t) * V, (r * b.T + t + 1) * V);
        let max = -Infinity, arg = 0;
        for (let v = 0; v < V; v++) if (row[v] > max) max = row[v], arg = v;
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(row[v] - max);
        const lse = max + Math.log(z), label = e.labels[t];
        out.nll[s + r] += lse - row[label];
        if (arg === label) out.correct[s + r]++, hits[k] = 1;
        for (let v = 0; v < V; v++) lp[v] = row[v] - lse;
        zpp[k] = minKppToken(lp, label);
        if (dist) dist.set(lp, k * V);
      });
      out.tokens[s + r] = keep.length;
      out.hits.push(hits);
      out.zpp.push(zpp);
      if (dist) out.logp!.push(dist);
    });
  }
  return out;
}

/** Mean token NLL over all answer tokens. */
export function meanNll(o: RowOutputs): number {
  return o.nll.reduce((a, x) => a + x, 0) / Math.max(1, o.tokens.reduce((a, x) => a + x, 0));
}

/** Per-row average token NLL. */
export function avgLosses(o: RowOutputs): number[] {
  return Array.from(o.nll, (x, i) => x / Math.max(1, o.tokens[i]));
}

/** Token accuracy and exact-match rate. */
export function accuracy(o: RowOutputs): { token: number; exact: number } {
  const tokens = o.tokens.reduce((a, x) => a + x, 0), correct = o.correct.reduce((a, x) => a + x, 0);
  const exact = o.tokens.reduce((a, x, i) => a + (x > 0 && o.correct[i] === x ? 1 : 0), 0) / o.tokens.length;
  return { token: correct / Math.max(1, tokens), exact };
}

/**
 * KL_S(P‖Q): mean over rows of the per-token mean KL at answer positions (both must keep distributions).
 *
 * @example
 * ```ts ignore
 * const retainKl = klBetween(originalOutputs.retain, unlearnedOutputs.retain);
 * ```
 */
export function klBetween(p: RowOutputs, q: RowOutputs): number {
  if (!p.logp || !q.logp) throw new Error("klBetween: both outputs need keepDist");
  const V = p.vocab;
  let total = 0, rows = 0;
  p.logp.forEach((lp, r) => {
    const lq = q.logp![r], T = p.tokens[r];
    if (T === 0) return;
    let s = 0;
    for (let i = 0; i < T * V; i++) {
      const a = lp[i];
      if (a > -80) s += Math.exp(a) * (a - lq[i]);
    }
    total += s / T;
    rows++;
  });
  return total / Math.max(1, rows);
}

/** One model's outputs on the benchmark's splits. */
export interface ModelEval {
  forget: RowOutputs;
  retain: RowOutputs;
  holdout: RowOutputs;
  stories: RowOutputs;
  /** Per-row truth ratios (forget, retain); empty when the data has no perturbed answers. */
  trForget: number[];
  trRetain: number[];
  /** Per-row ROUGE-L recall of the greedy answers (forget, retain); empty when not generated. */
  rougeForget: number[];
  rougeRetain: number[];
}

/** Tokenized evaluation rows: answers, and for truth ratios paraphrased + perturbed answers. */
export interface EvalRows {
  forget: Example[];
  retain: Example[];
  holdout: Example[];
  stories: Example[];
  forgetPara?: Example[];
  forgetPert?: Example[][];
  retainPara?: Example[];
  retainPert?: Example[][];
}

/** Per-row truth ratios from paraphrased and perturbed answer rows (the perturbed lists align by row). */
async function truthRatios(runner: ModelRunner, w: Weights, para?: Example[], pert?: Example[][]) {
  if (!para?.length || !pert?.length) return [];
  const c = avgLosses(await rowOutputs(runner, w, para));
  const wrong = await Promise.all(pert.map(async (rows) => avgLosses(await rowOutputs(runner, w, rows))));
  return c.map((x, i) => truthRatio(x, wrong.map((wl) => wl[i])));
}

/**
 * A row's prompt (the tokens before its first target) and answer (its targets, in order).
 *
 * @example
 * ```ts
 * promptAndAnswer({ inputIds: Int32Array.of(5, 6, 7, 8), labels: Int32Array.of(-100, 7, 8, -100), row: 0 });
 * // { prompt: [5, 6], answer: [7, 8] }
 * ```
 */
export function promptAndAnswer(e: Example): { prompt: number[]; answer: number[] } {
  const first = e.labels.findIndex((l) => l !== -100);
  if (first < 0) throw new Error(`row ${e.row}: no answer tokens`);
  return {
    prompt: Array.from(e.inputIds.subarray(0, first + 1)),
    answer: Array.from(e.labels).filter((l) => l !== -100),
  };
}

/** ROUGE-L recall of the greedy continuation (as many tokens as the answer) of each row's prompt. */
export async function greedyRouge(gen: Generator, w: Weights, rows: Example[]): Promise<number[]> {
  const out: number[] = [];
  for (const e of rows) {
    const { prompt, answer } = promptAndAnswer(e);
    const got = await gen.generate(w, prompt, { maxNewTokens: answer.length });
    out.push(rougeL(answer, got).recall);
  }
  return out;
}

/**
 * A model's outputs on every split (distributions kept where KL is computed); with `generator`, also the
 * ROUGE-L recall of greedy answers to the forget and retain prompts.
 *
 * @example
 * ```ts ignore
 * const orig = await evaluateUnlearnModel(runner, original, rows, new Generator(config, "lean"));
 * ```
 */
export async function evaluateUnlearnModel(
  runner: ModelRunner,
  w: Weights,
  d: EvalRows,
  generator?: Generator,
): Promise<ModelEval> {
  return {
    forget: await rowOutputs(runner, w, d.forget, { keepDist: true }),
    retain: await rowOutputs(runner, w, d.retain, { keepDist: true }),
    holdout: await rowOutputs(runner, w, d.holdout),
    stories: await rowOutputs(runner, w, d.stories, { keepDist: true }),
    trForget: await truthRatios(runner, w, d.forgetPara, d.forgetPert),
    trRetain: await truthRatios(runner, w, d.retainPara, d.retainPert),
    rougeForget: generator ? await greedyRouge(generator, w, d.forget) : [],
    rougeRetain: generator ? await greedyRouge(generator, w, d.retain) : [],
  };
}

/** The benchmark's figures of one model. */
export interface UnlearnMetrics {
  forgetNll: number;
  retainNll: number;
  holdoutNll: number;
  forgetAcc: number;
  retainAcc: number;
  forgetExact: number;
  retainExact: number;
  /** (L_f − L_f(orig)) / (L_f(retrain) − L_f(orig)). */
  gapClosedNll: number;
  /** 1 − KL_f(retrain‖model) / KL_f(retrain‖orig). */
  gapClosedKl: number;
  klForgetToRetrain: number;
  klRetainToRetrain: number;
  klRetainToOrig: number;
  klStoriesToOrig: number;
  truthRatioForget?: number;
  truthRatioRetain?: number;
  /** KS p-value of the forget truth ratios against the retrained model's (open-unlearning forget_quality). */
  forgetQuality?: number;
  /** Loss-based membership AUC (forget = members, holdout = non-members). */
  miaAuc: number;
  /** Min-K%++ membership AUC (open-unlearning convention: 1 = forget rows exposed as members). */
  minKppAuc: number;
  /** ((1 − AUC) − (1 − AUC_retrained)) / (1 − AUC_retrained) · 100 on the Min-K%++ AUC. */
  privleak: number;
  /** Mean over forget rows of the share of answer tokens the teacher-forced argmax reproduces. */
  exactMemorization: number;
  /** Mean over forget rows of 1 − k* /|y| (memorization.ts). */
  extractionStrength: number;
  /** Mean over retain rows of exp(−avg answer NLL) (open-unlearning `probability`). */
  retainProb: number;
  /** Mean ROUGE-L recall of greedy answers (forget: MUSE VerbMem / KnowMem on the forget set). */
  forgetRouge?: number;
  retainRouge?: number;
  /** Harmonic mean of retain probability, retain ROUGE-L and retain truth ratio (those measured). */
  modelUtility: number;
}

const mean = (xs: readonly number[]) => xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length);

/** Min-K%++ attack scores of every row with answer tokens. */
const minKppScores = (o: RowOutputs) => o.zpp.filter((z) => z.length > 0).map((z) => minKppScore(z));

/**
 * Compare a model's outputs with the original's and the retrained model's.
 *
 * @example
 * ```ts ignore
 * const m = unlearnMetrics(await evaluateUnlearnModel(runner, w, rows), origEval, retrainEval);
 * ```
 */
export function unlearnMetrics(m: ModelEval, orig: ModelEval, retrain: ModelEval): UnlearnMetrics {
  const lf = meanNll(m.forget), lo = meanNll(orig.forget), lr = meanNll(retrain.forget);
  const fa = accuracy(m.forget), ra = accuracy(m.retain);
  const klF = klBetween(retrain.forget, m.forget), klF0 = klBetween(retrain.forget, orig.forget);
  const tr = m.trForget.length > 0;
  const kpp = miaAuc(minKppScores(m.forget), minKppScores(m.holdout));
  const kppGold = miaAuc(minKppScores(retrain.forget), minKppScores(retrain.holdout));
  const answered = (o: RowOutputs) => o.hits.filter((h) => h.length > 0);
  const retainProb = mean(
    avgLosses(m.retain).filter((_, i) => m.retain.tokens[i] > 0).map((x) => Math.exp(-x)),
  );
  const truthRatioRetain = m.trRetain.length ? truthRatioAggregates(m.trRetain).trueBetter : undefined;
  const retainRouge = m.rougeRetain.length ? mean(m.rougeRetain) : undefined;
  return {
    forgetNll: lf,
    retainNll: meanNll(m.retain),
    holdoutNll: meanNll(m.holdout),
    forgetAcc: fa.token,
    retainAcc: ra.token,
    forgetExact: fa.exact,
    retainExact: ra.exact,
    gapClosedNll: (lf - lo) / (lr - lo),
    gapClosedKl: 1 - klF / klF0,
    klForgetToRetrain: klF,
    klRetainToRetrain: klBetween(retrain.retain, m.retain),
    klRetainToOrig: klBetween(orig.retain, m.retain),
    klStoriesToOrig: m.stories.tokens.length ? klBetween(orig.stories, m.stories) : NaN,
    truthRatioForget: tr ? truthRatioAggregates(m.trForget).closerToOne : undefined,
    truthRatioRetain,
    forgetQuality: tr && retrain.trForget.length ? ksTest(m.trForget, retrain.trForget).pvalue : undefined,
    miaAuc: auc(avgLosses(m.forget).map((x) => -x), avgLosses(m.holdout).map((x) => -x)),
    minKppAuc: kpp,
    privleak: privleak(kpp, kppGold),
    exactMemorization: mean(answered(m.forget).map(exactMemorization)),
    extractionStrength: mean(answered(m.forget).map(extractionStrength)),
    retainProb,
    forgetRouge: m.rougeForget.length ? mean(m.rougeForget) : undefined,
    retainRouge,
    modelUtility: harmonicMean(
      [retainProb, retainRouge, truthRatioRetain].filter((x): x is number => x !== undefined),
    ),
  };
}
