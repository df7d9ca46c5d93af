// A job's curves in the page: its progress points in step order, at most MAX_POINTS of them. When
// full, the spacing doubles and the points are thinned to it, as the server thins a job's history
// (src/jobs/history.ts), so a job watched live for hours costs the page what one watched for a
// minute does, and each frame draws a bounded number of points.

/** Most points the page keeps per job. */
export const MAX_POINTS = 1024;

/** Columns of points (`cols.step`, `cols.loss`, …), thinned as they grow. */
export class Curve {
  /** `keys`: the columns, `step` among them; `max`: most points kept. */
  constructor(keys, max = MAX_POINTS) {
    this.keys = keys;
    this.max = max;
    this.stride = 1;
    this.cols = Object.fromEntries(keys.map((k) => [k, []]));
  }

  get length() {
    return this.cols.step.length;
  }

  /** Add a progress point (a missing figure is null); a step at or before the last (a resumed job) drops the later ones. */
  add(p) {
    const s = this.cols.step;
    while (s.length && s.at(-1) >= p.step) this.#pop();
    // the newest point replaces the previous one while that is closer than the stride to its predecessor
    if (s.length >= 2 && s.at(-1) - s.at(-2) < this.stride) this.#pop();
    for (const k of this.keys) this.cols[k].push(p[k] ?? null);
    if (s.length > this.max) {
      this.stride *= 2;
      this.#thin();
    }
  }

  #pop() {
    for (const k of this.keys) this.cols[k].pop();
  }

  /** Keep the first point, then points at least `stride` steps apart, and the last one. */
  #thin() {
    const s = this.cols.step, keep = [];
    for (let i = 0; i < s.length; i++) if (!keep.length || s[i] - s[keep.at(-1)] >= this.stride) keep.push(i);
    if (keep.at(-1) !== s.length - 1) keep.push(s.length - 1);
    for (const k of this.keys) this.cols[k] = keep.map((i) => this.cols[k][i]);
  }
}
