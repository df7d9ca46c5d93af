/**
 * @module CLD — Correlation of Loss Differences (Nagaraj, Ravikumar, Roy; TMLR 2025, arXiv 2508.20230;
 * code manishnagaraj/CLD_Coresets_from_Trajectories). A proxy run records every row's loss ℓ_e (mean token
 * NLL) at checkpoints e = 0..E−1, Δ_m = [ℓ_{e+1}(z_m) − ℓ_e(z_m)]_e, and the paper's score (`align: "class"`)
 * is CLD(z_m) = Pearson(Δ_m, Δ_V,c), Δ_V,c the diff of the mean validation loss of the row's source c (the
 * global curve when c has no validation rows, §8.1 [inferred for LM adaptation]); `align: "row"` takes
 * max_v Pearson(Δ_m, Δ_v) over c's validation rows. Population std (a zero std scores 0); ties by row index.
 * Defaults [ours; README "Coresets" measures them]: proxy = the model fine-tuned on all rows, 2 epochs × 16
 * loss checkpoints, AdamW lr 1e-3 constant, batch 8; align row; budget "matched" (k split equally over the
 * curves the rows were scored by: the paper's fixed top-k per class).
 */
import type { Example } from "../data/example.ts";
import type { DecoderConfig } from "../models/config.ts";
import type { Weights } from "../models/weights.ts";
import { type Backend, DEFAULT_BACKEND } from "../runtime/backend.ts";
import { Trainer } from "../train/trainer.ts";
import { RowLossRunner } from "./row_loss.ts";
import { groupBy, proportionalBudgets } from "./budgets.ts";

/** Loss trajectories: `train[e][m]` and `val[e][v]` at checkpoints e = 0..E−1. */
export interface Trajectory {
  train: ArrayLike<number>[];
  val: ArrayLike<number>[];
}

/** Pearson correlation with population std; a zero std is replaced by 1 (so a flat curve scores 0). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n !== b.length) throw new Error(`pearson: lengths ${n} ≠ ${b.length}`);
  if (n === 0) return 0;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) (ma += a[i], mb += b[i]);
  ma /= n, mb /= n;
  let cov = 0, va = 0, vb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i] - ma, y = b[i] - mb;
    cov += x * y, va += x * x, vb += y * y;
  }
  const sa = Math.sqrt(va / n) || 1, sb = Math.sqrt(vb / n) || 1;
  return cov / n / (sa * sb);
}

/**
 * CLD scores of the training rows from loss trajectories; `trainSources[m]` / `valSources[v]`
 * group rows into classes (undefined: no class → the global validation curve).
 *
 * @example
 * ```ts
 * const traj = { train: [[3, 2], [2, 2], [1.5, 2]], val: [[4], [3], [2.5]] };
 * cldScores(traj); // Float64Array [1, 0]: row 0 falls like the validation loss, row 1 is flat
 * ```
 */
export function cldScores(
  traj: Trajectory,
  trainSources?: readonly (string | undefined)[],
  valSources?: readonly (string | undefined)[],
  align: Align = "class",
): Float64Array {
  return cldAlign(traj, trainSources, valSources, align).scores;
}

/**
 * CLD scores and, per training row, the curve it was scored by (`match`: "class:<source>" for align
 * class, "val:<index>" of the best validation row for align row) — the classes of budget "matched".
 *
 * @example
 * ```ts
 * const traj = { train: [[3, 2], [2, 2], [1.5, 2]], val: [[4, 4], [3, 4], [2.5, 3]] };
 * cldAlign(traj, undefined, undefined, "row").match; // ["val:0", "val:1"]
 * ```
 */
export function cldAlign(
  traj: Trajectory,
  trainSources?: readonly (string | undefined)[],
  valSources?: readonly (string | undefined)[],
  align: Align = "class",
): { scores: Float64Array; match: string[] } {
  const E = traj.train.length;
  if (E < 3) throw new Error(`CLD needs at least 3 checkpoints (2 loss differences), got ${E}`);
  if (traj.val.length !== E) {
    throw new Error(`CLD: ${E} train checkpoints but ${traj.val.length} val checkpoints`);
  }
  const M = traj.train[0].length, V = traj.val[0].length;
  if (V === 0) throw new Error("CLD: no validation rows");
  // per-class mean validation loss per checkpoint, then its differences
  const classes = new Map<string | undefined, number[]>();
  for (let v = 0; v < V; v++) {
    const c = valSources?.[v];
    for (const key of c === undefined ? [undefined] : [c, undefined]) {
      if (!classes.has(key)) classes.set(key, []);
      classes.get(key)!.push(v);
    }
  }
  const diff = (curve: (e: number) => number) =>
    Float64Array.from({ length: E - 1 }, (_, e) => curve(e + 1) - curve(e));
  // "class": one curve per class (its mean validation loss); "row": one curve per validation row
  const curves = new Map<string | undefined, { key: string; dv: Float64Array }[]>();
  for (const [c, rows] of classes) {
    curves.set(
      c,
      align === "class"
        ? [{
          key: `class:${c ?? ""}`,
          dv: diff((e) => rows.reduce((s, v) => s + traj.val[e][v], 0) / rows.length),
        }]
        : rows.map((v) => ({ key: `val:${v}`, dv: diff((e) => traj.val[e][v]) })),
    );
  }
  const scores = new Float64Array(M), match: string[] = [];
  for (let m = 0; m < M; m++) {
    const dm = diff((e) => traj.train[e][m]);
    const c = trainSources?.[m];
    const mine = curves.get(c !== undefined && curves.has(c) ? c : undefined)!;
    scores[m] = -Infinity;
    for (const { key, dv } of mine) {
      const r = pearson(dm, dv);
      if (r > scores[m]) (scores[m] = r, match[m] = key);
    }
  }
  return { scores, match };
}

/**
 * What a row's loss differences are correlated with: "class" — the mean validation loss of its class
 * (the paper); "row" — each validation row of its class, keeping the best match (ours, for LM data
 * whose classes are coarse: a row that tracks one validation row's learning scores high even when
 * the class mean is dominated by a trend every learnable row shares).
 */
export type Align = "class" | "row";

/**
 * How the budget k is spread: "matched" — an equal share per curve the rows were scored by (the
 * paper's fixed top-k per class; with align row, per validation row, so every validation row's
 * content is covered); "global" — over all rows; "proportional" — over sources by their sizes.
 */
export type Budget = "matched" | "global" | "proportional";

/**
 * Indices of the k highest scores (descending, ties by index). "proportional" gives each source
 * floor(k·n_c/n) rows plus one for the largest remainders (the paper's per-class top-k).
 *
 * @example
 * ```ts
 * topK(Float64Array.of(0.1, 0.9, 0.5), 2); // [1, 2]
 * topK(Float64Array.of(0.1, 0.9, 0.5, 0.7), 2, ["a", "a", "b", "b"], "proportional"); // [1, 3]
 * ```
 */
export function topK(
  scores: ArrayLike<number>,
  k: number,
  sources?: readonly (string | undefined)[],
  budget: Budget = "global",
): number[] {
  const n = scores.length;
  if (!Number.isInteger(k) || k < 1 || k > n) throw new Error(`k must be an integer in [1, ${n}], got ${k}`);
  const byScore = (a: number, b: number) => (scores[b] - scores[a]) || a - b;
  if (budget === "global" || !sources) {
    return Array.from({ length: n }, (_, i) => i).sort(byScore).slice(0, k);
  }
  const groups = [...groupBy(sources).values()];
  const quota = budget === "proportional"
    ? proportionalBudgets(groups.map((g) => g.length), k)
    : groups.map((g) => Math.min(g.length, Math.floor(k / groups.length)));
  const picked = groups.flatMap((g, i) => [...g].sort(byScore).slice(0, quota[i]));
  // equal shares leave k mod G places (and those of small groups): the best of the rest fill them
  const taken = new Set(picked);
  const rest = Array.from({ length: n }, (_, i) => i).filter((i) => !taken.has(i)).sort(byScore);
  return [...picked, ...rest.slice(0, k - picked.length)].sort(byScore);
}

/** The proxy run that produces the loss trajectory. */
export interface CldOptions {
  /** Epochs over the training rows (default 2). */
  epochs?: number;
  /** Loss checkpoints per epoch, after the initial one (default 16). */
  evalsPerEpoch?: number;
  /** AdamW learning rate, constant (default 1e-3). */
  lr?: number;
  /** Rows per step (default 8). */
  batchSize?: number;
  /** Data-order seed (default 0). */
  seed?: number;
  /** What each row's loss differences are correlated with (default "row"). */
  align?: Align;
  backend?: Backend;
  /** Called after each checkpoint. */
  onCheckpoint?: (e: number, of: number) => void;
}

/**
 * Fine-tune a copy of `weights` on `train` and record every train and val row's mean token NLL
 * at the start and `evalsPerEpoch` times per epoch.
 *
 * @example
 * ```ts ignore
 * const traj = await cldTrajectory(model.config, model.weights, train, val, { backend: "node" });
 * ```
 */
export async function cldTrajectory(
  config: DecoderConfig,
  weights: Weights,
  train: Example[],
  val: Example[],
  o: CldOptions = {},
): Promise<Trajectory> {
  const epochs = o.epochs ?? 2, per = o.evalsPerEpoch ?? 16, batchSize = o.batchSize ?? 8;
  const stepsPerEpoch = Math.max(1, Math.ceil(train.length / batchSize));
  const total = epochs * stepsPerEpoch, points = epochs * per;
  if (points < 2) throw new Error("CLD: epochs × evals-per-epoch must be at least 2");
  const w: Weights = new Map([...weights].map(([k, v]) => [k, v.slice()]));
  const trainer = new Trainer(config, w, train, {
    steps: total,
    lr: o.lr ?? 1e-3,
    batchSize,
    schedule: "constant",
    weightDecay: 0,
    seed: o.seed ?? 0,
  }, o.backend ?? DEFAULT_BACKEND);
  const rows = new RowLossRunner(config, o.backend ?? DEFAULT_BACKEND);
  const traj: Trajectory = { train: [], val: [] };
  const record = async () => {
    traj.train.push(await rows.meanLosses(w, train));
    traj.val.push(await rows.meanLosses(w, val));
    o.onCheckpoint?.(traj.train.length - 1, points);
  };
  try {
    await record();
    for (let p = 1; p <= points; p++) {
      await trainer.run(undefined, Math.round((p * total) / points));
      await record();
    }
  } finally {
    await trainer.release();
    await rows.release();
  }
  return traj;
}

/** A selection: row indices (best first) and their scores. */
export interface Selection {
  indices: number[];
  scores: number[];
}

/**
 * CLD coreset of size k: the proxy trajectory, the scores, the top-k.
 *
 * @example
 * ```ts ignore
 * const { indices } = await cldSelect(model.config, model.weights, train, val, 30, {
 *   trainSources, valSources, backend: "node",
 * });
 * ```
 */
export async function cldSelect(
  config: DecoderConfig,
  weights: Weights,
  train: Example[],
  val: Example[],
  k: number,
  o: CldOptions & {
    trainSources?: (string | undefined)[];
    valSources?: (string | undefined)[];
    budget?: Budget;
  } = {},
): Promise<Selection & { all: Float64Array }> {
  if (!Number.isInteger(k) || k < 1 || k > train.length) {
    throw new Error(`k must be an integer in [1, ${train.length}], got ${k}`);
  }
  const traj = await cldTrajectory(config, weights, train, val, o);
  const { scores: all, match } = cldAlign(traj, o.trainSources, o.valSources, o.align ?? "row");
  const budget = o.budget ?? "matched";
  const indices = topK(all, k, budget === "matched" ? match : o.trainSources, budget);
  return { indices, scores: indices.map((i) => all[i]), all };
}
