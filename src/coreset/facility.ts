/**
 * @module Facility location by lazy greedy (CoLM's gradient matching, §8.2 step 5; reference:
 * BigML-CS-UCLA/CoLM colm/train/facility_location.py over submodlib's FacilityLocationFunction):
 *   F(S) = Σ_{i∈V} max(0, max_{j∈S} s_ij),   maximized greedily to |S| = budget;
 *   weight w_j = #{i ∈ V : j is i's most similar selected point}  (selected points count themselves).
 * Similarities: "cosine" s_ij = ⟨x_i, x_j⟩/(‖x_i‖‖x_j‖) (the CoLM base script's choice), or "l1"
 * s_ij = max_kl d_kl − d_ij with d the L1 distance (the dataclass default). Dense n×n: one source's
 * rows of one step (or one CLI selection) at a time. Ties break by lower index (deterministic).
 */

/** Similarity kernels of {@link facilityLocation}. */
export type Similarity = "cosine" | "l1";

/** Dense n×n similarity matrix (row-major) of feature vectors. */
export function similarityMatrix(x: readonly Float32Array[], kind: Similarity = "cosine"): Float64Array {
  const n = x.length, s = new Float64Array(n * n);
  if (kind === "cosine") {
    const norm = x.map((a) => Math.sqrt(a.reduce((t, v) => t + v * v, 0)) || 1);
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        let d = 0;
        const a = x[i], b = x[j];
        for (let t = 0; t < a.length; t++) d += a[t] * b[t];
        s[i * n + j] = s[j * n + i] = d / (norm[i] * norm[j]);
      }
    }
    return s;
  }
  let max = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let d = 0;
      const a = x[i], b = x[j];
      for (let t = 0; t < a.length; t++) d += Math.abs(a[t] - b[t]);
      s[i * n + j] = s[j * n + i] = d;
      if (d > max) max = d;
    }
  }
  for (let k = 0; k < s.length; k++) s[k] = max - s[k];
  return s;
}

/** A binary max-heap of (bound, index), larger bound first, then lower index. */
class Heap {
  readonly #b: number[] = [];
  readonly #i: number[] = [];
  get size(): number {
    return this.#i.length;
  }
  #less(a: number, b: number): boolean {
    return this.#b[a] < this.#b[b] || (this.#b[a] === this.#b[b] && this.#i[a] > this.#i[b]);
  }
  #swap(a: number, b: number): void {
    [this.#b[a], this.#b[b]] = [this.#b[b], this.#b[a]];
    [this.#i[a], this.#i[b]] = [this.#i[b], this.#i[a]];
  }
  push(bound: number, index: number): void {
    this.#b.push(bound), this.#i.push(index);
    for (let k = this.size - 1; k > 0;) {
      const p = (k - 1) >> 1;
      if (!this.#less(p, k)) break;
      this.#swap(p, k), k = p;
    }
  }
  peek(): { bound: number; index: number } {
    return { bound: this.#b[0], index: this.#i[0] };
  }
  pop(): { bound: number; index: number } {
    const top = this.peek(), last = this.size - 1;
    this.#swap(0, last);
    this.#b.pop(), this.#i.pop();
    for (let k = 0;;) {
      const l = 2 * k + 1, r = l + 1;
      let m = k;
      if (l < this.size && this.#less(m, l)) m = l;
      if (r < this.size && this.#less(m, r)) m = r;
      if (m === k) break;
      this.#swap(m, k), k = m;
    }
    return top;
  }
}

/**
 * Greedy facility location over an n×n similarity matrix: `budget` indices in pick order and
 * each one's weight (how many points it represents).
 *
 * @example
 * ```ts
 * const x = [[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]].map((v) => Float32Array.from(v));
 * facilityLocation(similarityMatrix(x), 4, 2); // { indices: [1, 2], weights: [2, 2] }: one per cluster
 * ```
 */
export function facilityLocation(
  sim: Float64Array,
  n: number,
  budget: number,
): { indices: number[]; weights: number[] } {
  if (sim.length !== n * n) throw new Error(`facilityLocation: ${sim.length} similarities for ${n} points`);
  const k = Math.min(Math.max(0, Math.floor(budget)), n);
  if (k === n) return { indices: Array.from({ length: n }, (_, i) => i), weights: Array(n).fill(1) };
  const cur = new Float64Array(n); // max(0, best similarity to the selection so far)
  const gain = (j: number) => {
    let g = 0;
    for (let i = 0; i < n; i++) {
      const d = sim[i * n + j] - cur[i];
      if (d > 0) g += d;
    }
    return g;
  };
  const heap = new Heap();
  for (let j = 0; j < n; j++) heap.push(gain(j), j);
  const indices: number[] = [];
  while (indices.length < k) {
    const top = heap.pop(), g = gain(top.index);
    // lazy greedy: gains only shrink, so a fresh gain that still beats every stale bound is the max
    if (heap.size > 0) {
      const next = heap.peek();
      if (g < next.bound || (g === next.bound && top.index > next.index)) {
        heap.push(g, top.index);
        continue;
      }
    }
    indices.push(top.index);
    for (let i = 0; i < n; i++) cur[i] = Math.max(cur[i], sim[i * n + top.index]);
  }
  const weights = Array(k).fill(0);
  for (let i = 0; i < n && k > 0; i++) {
    let best = 0;
    for (let s = 1; s < k; s++) if (sim[i * n + indices[s]] > sim[i * n + indices[best]]) best = s;
    weights[best]++;
  }
  return { indices, weights };
}
