/**
 * @module CoLM — mini-batch coresets for data mixtures (Nguyen, Yang, Anand, Yang, Mirzasoleiman; ICLR 2025;
 * code BigML-CS-UCLA/CoLM, the "efficient" trainer): of a batch of N rows keep B = round(N·ratio) whose
 * gradients match the batch's (§8.2). Feature `grad` (default): each row's exact gradient of the last layer's
 * value projection, from one forward pass and a backward through the last layer only (row_grad.ts; what the
 * paper's cached activations buy), count-sketched to `maxDims`; `zo`: the paper's zeroth-order estimate
 * ĝ_i = (1/K) Σ_k z_k (ℓ_i(θ + εz_k) − ℓ_i(θ − εz_k)) / 2ε, z_k ~ N(0, I) fixed by `seed` (two extra passes of
 * the whole model per direction; with K = 1 every ĝ_i is a multiple of z_1). Then Adam-normalized,
 * u_i = m̂_i/(√v̂_i + ε_adam) (moments then ← the selected rows' mean), the `zoDim` dims of largest |mean u|,
 * small sources kept whole, facility location per source, budget ∝ size (facility.ts). Defaults
 * [training_arguments.py]: ratio 0.5, ε 1e-3, zoDim 2560, cosine, β (0.9, 0.999), ε_adam 1e-8, K 1; small
 * sources `keepSources`, else those under 5 % of the rows, and `grad` features [ours].
 */
import type { Example } from "../data/example.ts";
import type { DecoderConfig } from "../models/config.ts";
import { normalRng } from "../models/params.ts";
import type { Weights } from "../models/weights.ts";
import { type Backend, DEFAULT_BACKEND } from "../runtime/backend.ts";
import type { Selection } from "./cld.ts";
import { groupBy, proportionalBudgets } from "./budgets.ts";
import { facilityLocation, type Similarity, similarityMatrix } from "./facility.ts";
import { lastVProj, RowLossRunner } from "./row_loss.ts";
import { RowGradRunner } from "./row_grad.ts";

/** CoLM's per-row features. */
export type ColmFeature = "grad" | "zo";

/** CoLM hyper-parameters (defaults in the module header). */
export interface ColmOptions {
  /** Per-row feature: exact last-layer value-projection gradient ("grad", default) or the zeroth-order estimate ("zo"). */
  feature?: ColmFeature;
  /** "grad": count-sketch the gradient to at most this many dims (default 65536). */
  maxDims?: number;
  /** Kept fraction of each large batch (small_batch_ratio, default 0.5). */
  ratio?: number;
  /** Zeroth-order perturbation size (mezo_eps, default 1e-3). */
  eps?: number;
  /** Random directions per estimate (default 1). */
  directions?: number;
  /** Dimensions kept by the sparsification (zo_dim, default 2560). */
  zoDim?: number;
  /** Seed of the fixed directions z (default 0). */
  seed?: number;
  /** Sources whose rows are always kept (overrides `smallFraction`). */
  keepSources?: string[];
  /** Without `keepSources`: sources with fewer than this fraction of all rows are kept (default 0.05). */
  smallFraction?: number;
  beta1?: number;
  beta2?: number;
  adamEps?: number;
  similarity?: Similarity;
  /** Rows per forward pass of the zeroth-order estimate (default 16). */
  forwardBatch?: number;
}

/** Sources to keep whole: `keepSources`, else those under `smallFraction` of `sources`. */
export function smallSources(sources: readonly (string | undefined)[], o: ColmOptions = {}): Set<string> {
  if (o.keepSources) return new Set(o.keepSources);
  const f = o.smallFraction ?? 0.05, out = new Set<string>();
  for (const [s, rows] of groupBy(sources)) {
    if (s !== undefined && rows.length < f * sources.length) out.add(s);
  }
  return out;
}

/** CoLM's running Adam moments over the feature space. */
export interface AdamFeatureState {
  m: Float32Array;
  v: Float32Array;
  t: number;
}

/**
 * Adam-normalized features u_i of gradients `g` given the running state (not updated here).
 *
 * @example
 * ```ts
 * const s = { m: new Float32Array(2), v: new Float32Array(2), t: 0 };
 * adamNormalize([Float32Array.of(2, -0.5)], s).u[0]; // ≈ [1, -1]: the first step is sign(g)
 * ```
 */
export function adamNormalize(
  g: readonly Float32Array[],
  s: AdamFeatureState,
  beta1 = 0.9,
  beta2 = 0.999,
  eps = 1e-8,
): { u: Float32Array[]; m: Float32Array[]; v: Float32Array[] } {
  const bc1 = 1 - beta1 ** (s.t + 1), bc2 = 1 - beta2 ** (s.t + 1);
  const u: Float32Array[] = [], m: Float32Array[] = [], v: Float32Array[] = [];
  for (const gi of g) {
    const mi = new Float32Array(gi.length),
      vi = new Float32Array(gi.length),
      ui = new Float32Array(gi.length);
    for (let d = 0; d < gi.length; d++) {
      mi[d] = beta1 * s.m[d] + (1 - beta1) * gi[d];
      vi[d] = beta2 * s.v[d] + (1 - beta2) * gi[d] * gi[d];
      ui[d] = mi[d] / bc1 / (Math.sqrt(vi[d] / bc2) + eps);
    }
    u.push(ui), m.push(mi), v.push(vi);
  }
  return { u, m, v };
}

/** The `dim` indices with the largest |mean_i u_i[d]| (ties by index), ascending. */
export function topDims(u: readonly Float32Array[], dim: number): Int32Array {
  const P = u[0]?.length ?? 0;
  if (P <= dim) return Int32Array.from({ length: P }, (_, d) => d);
  const score = new Float64Array(P);
  for (const ui of u) for (let d = 0; d < P; d++) score[d] += ui[d];
  const idx = Array.from({ length: P }, (_, d) => d).sort((a, b) =>
    Math.abs(score[b]) - Math.abs(score[a]) || a - b
  );
  return Int32Array.from(idx.slice(0, dim)).sort();
}

/**
 * Steps 2–5 on given per-row gradient features: indices into `g` (kept small-source rows first,
 * then facility-location picks per source) with their facility-location weights (kept rows: 1).
 * Updates `state` with the selected rows' moments.
 *
 * @example
 * ```ts
 * const g = [[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [5, 5]].map((v) => Float32Array.from(v));
 * const state = { m: new Float32Array(2), v: new Float32Array(2), t: 0 };
 * colmPick(g, ["a", "a", "a", "a", "s"], new Set(["s"]), 3, state).indices; // [4, …two rows of "a"]
 * ```
 */
export function colmPick(
  g: readonly Float32Array[],
  sources: readonly (string | undefined)[],
  keep: ReadonlySet<string>,
  budget: number,
  state: AdamFeatureState,
  o: ColmOptions = {},
): Selection {
  const kept: number[] = [], pool: number[] = [];
  g.forEach((gi, i) => {
    const s = sources[i];
    if (s !== undefined && keep.has(s)) kept.push(i);
    else if (gi.every(Number.isFinite) && gi.some((x) => x !== 0)) pool.push(i); // NaN / zero ĝ: dropped
  });
  const indices = [...kept], scores = kept.map(() => 1);
  const B = Math.min(pool.length, Math.max(0, budget - kept.length));
  const { u, m, v } = adamNormalize(pool.map((i) => g[i]), state, o.beta1, o.beta2, o.adamEps);
  const groups = [...groupBy(pool.map((i) => sources[i])).values()]; // positions in `pool`
  const quota = proportionalBudgets(groups.map((p) => p.length), B);
  const chosen: number[] = [];
  groups.forEach((pos, c) => {
    if (quota[c] === 0) return;
    const dims = topDims(pos.map((p) => u[p]), o.zoDim ?? 2560);
    const reps = pos.map((p) => Float32Array.from(dims, (d) => u[p][d]));
    const fl = facilityLocation(similarityMatrix(reps, o.similarity), reps.length, quota[c]);
    fl.indices.forEach((j, r) => {
      chosen.push(pos[j]);
      indices.push(pool[pos[j]]);
      scores.push(fl.weights[r]);
    });
  });
  if (chosen.length > 0) {
    const P = state.m.length;
    state.m.fill(0), state.v.fill(0);
    for (const p of chosen) {
      for (let d = 0; d < P; d++) {
        (state.m[d] += m[p][d] / chosen.length, state.v[d] += v[p][d] / chosen.length);
      }
    }
    state.t++;
  }
  return { indices, scores };
}

/**
 * CoLM's selector: holds the fixed directions, the Adam feature state and the per-row loss session.
 *
 * @example
 * ```ts ignore
 * const sel = new ColmSelector(model.config, sources, { ratio: 0.5 }, "node");
 * const { indices } = await sel.select(model.weights, batchRows, batchSources);
 * ```
 */
export class ColmSelector {
  readonly keep: Set<string>;
  readonly opts: ColmOptions;
  readonly feature: ColmFeature;
  /** "zo": the per-row loss session with the perturbation input. */
  readonly runner?: RowLossRunner;
  /** "grad": the per-row gradient session of the last value projection. */
  readonly grads?: RowGradRunner;
  readonly state: AdamFeatureState;
  /** "zo": the fixed directions z_k over the value entries (drawn once from the seed); "grad": none. */
  readonly z: Float32Array[];
  /** "grad": logical indices of the value entries, and their count-sketch bucket and sign (when sketched). */
  readonly #values: Int32Array = new Int32Array(0);
  readonly #sketch?: { bucket: Int32Array; sign: Float32Array };

  /** `allSources`: the source of every training row (decides which sources are small). */
  constructor(
    readonly config: DecoderConfig,
    allSources: readonly (string | undefined)[],
    o: ColmOptions = {},
    backend: Backend = DEFAULT_BACKEND,
  ) {
    const ratio = o.ratio ?? 0.5;
    if (!(ratio > 0 && ratio <= 1)) throw new Error(`coreset ratio must be in (0, 1], got ${ratio}`);
    this.opts = { ...o, ratio };
    this.feature = o.feature ?? "grad";
    this.keep = smallSources(allSources, o);
    const seed = o.seed ?? 0;
    const vp = lastVProj(config);
    let P: number;
    if (this.feature === "grad") {
      this.grads = new RowGradRunner(config, vp.module, backend);
      const { dOut, dIn } = this.grads.dims;
      // storage index → logical (out × in) index of each value entry
      this.#values = vp.layout === "out_in"
        ? vp.entries
        : Int32Array.from(vp.entries, (e) => (e % dOut) * dIn + Math.floor(e / dOut));
      const max = o.maxDims ?? 65536;
      P = Math.min(this.#values.length, max);
      if (this.#values.length > max) {
        // count sketch: entry n → bucket h(n), sign s(n) (an integer hash of n and the seed)
        const h = (n: number) => {
          let x = Math.imul(n ^ (seed * 0x9e3779b1), 0x85ebca6b);
          x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
          return (x ^ (x >>> 16)) >>> 0;
        };
        this.#sketch = {
          bucket: Int32Array.from(this.#values, (_, n) => h(n) % max),
          sign: Float32Array.from(this.#values, (_, n) => (h(n + 0x40000000) & 1 ? 1 : -1)),
        };
      }
      this.z = [];
    } else {
      this.runner = new RowLossRunner(config, backend, true);
      P = vp.entries.length;
      const K = o.directions ?? 1;
      this.z = Array.from({ length: K }, (_, k) => {
        const r = normalRng(seed * 1009 + k + 1);
        return Float32Array.from({ length: P }, () => r());
      });
    }
    this.state = { m: new Float32Array(P), v: new Float32Array(P), t: 0 };
  }

  /** Per-row features: the value-projection gradient ("grad"), or its zeroth-order estimate ("zo"). */
  async features(w: Weights, rows: Example[]): Promise<Float32Array[]> {
    const bs = this.opts.forwardBatch ?? 16;
    if (this.grads) {
      const full = await this.grads.rowGrads(w, rows, bs), idx = this.#values, sk = this.#sketch;
      return full.map((g) => {
        if (!sk) return Float32Array.from(idx, (j) => g[j]);
        const out = new Float32Array(this.state.m.length);
        idx.forEach((j, n) => out[sk.bucket[n]] += sk.sign[n] * g[j]);
        return out;
      });
    }
    const vp = this.runner!.vproj!, eps = this.opts.eps ?? 1e-3, K = this.z.length;
    const g = rows.map(() => new Float32Array(vp.entries.length));
    const dw = new Float32Array(vp.shape[0] * vp.shape[1]);
    for (const z of this.z) {
      const c: Float64Array[] = [];
      for (const sign of [1, -1]) {
        vp.entries.forEach((e, j) => dw[e] = sign * eps * z[j]);
        c.push(await this.runner!.meanLosses(w, rows, bs, dw));
      }
      rows.forEach((_, i) => {
        const ci = (c[0][i] - c[1][i]) / (2 * eps) / K;
        for (let j = 0; j < z.length; j++) g[i][j] += ci * z[j];
      });
    }
    return g;
  }

  /**
   * Select from `rows` (sources `sources`) the coreset of size round(N·ratio), or `budget` rows.
   * Returns indices into `rows` and their facility-location weights.
   */
  async select(
    w: Weights,
    rows: Example[],
    sources: readonly (string | undefined)[],
    budget?: number,
  ): Promise<Selection> {
    const B = budget ?? Math.max(1, Math.round(rows.length * this.opts.ratio!));
    return colmPick(await this.features(w, rows), sources, this.keep, B, this.state, this.opts);
  }

  /** Free the compiled session. */
  async release(): Promise<void> {
    await this.runner?.release();
    await this.grads?.release();
  }
}
