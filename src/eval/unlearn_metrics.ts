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
 */
import { makeBatch } from "../data/batch.ts";
import type { Example } from "../data/example.ts";
import type { ModelRunner } from "../models/runner.ts";
import type { Weights } from "../models/weights.ts";
import { auc, ksTest, truthRatio, truthRatioAggregates } from "./unlearn_stats.ts";

/** Per-row outputs of a model on a set of rows. */
export interface RowOutputs {
  /** Σ NLL over answer tokens, per row. */
  nll: Float64Array;
  /** Answer tokens per row. */
  tokens: Int32Array;
  /** Answer tokens whose argmax is right, per row. */
  correct: Int32Array;
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
      keep.forEach((t, k) => {
        const row = logits.subarray((r * b.T + t) * V, (r * b.T + t + 1) * V);
        let max = -Infinity, arg = 0;
        for (let v = 0; v < V; v++) if (row[v] > max) max = row[v], arg = v;
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(row[v] - max);
        const lse = max + Math.log(z), label = e.labels[t];
        out.nll[s + r] += lse - row[label];
        if (arg === label) out.correct[s + r]++;
        if (dist) { for (let v = 0; v < V; v++) dist[k * V + v] = row[v] - lse; }
      });
      out.tokens[s + r] = keep.length;
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
 * A model's outputs on every split (distributions kept where KL is computed).
 *
 * @example
 * ```ts ignore
 * const orig = await evaluateUnlearnModel(runner, original, rows);
 * ```
 */
export async function evaluateUnlearnModel(runner: ModelRunner, w: Weights, d: EvalRows): Promise<ModelEval> {
  return {
    forget: await rowOutputs(runner, w, d.forget, { keepDist: true }),
    retain: await rowOutputs(runner, w, d.retain, { keepDist: true }),
    holdout: await rowOutputs(runner, w, d.holdout),
    stories: await rowOutputs(runner, w, d.stories, { keepDist: true }),
    trForget: await truthRatios(runner, w, d.forgetPara, d.forgetPert),
    trRetain: await truthRatios(runner, w, d.retainPara, d.retainPert),
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
  forgetQuality?: number;
  miaAuc: number;
}

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
    klStoriesToOrig: klBetween(orig.stories, m.stories),
    truthRatioForget: tr ? truthRatioAggregates(m.trForget).closerToOne : undefined,
    truthRatioRetain: m.trRetain.length ? truthRatioAggregates(m.trRetain).trueBetter : undefined,
    forgetQuality: tr && retrain.trForget.length ? ksTest(m.trForget, retrain.trForget).pvalue : undefined,
    miaAuc: auc(avgLosses(m.forget).map((x) => -x), avgLosses(m.holdout).map((x) => -x)),
  };
}
