/**
 * @module The curve of a job: a store wrapper that keeps, in each record, the progress points the
 * job went through (step, loss, learning rate, gradient norm, tokens/s, forget loss), so a page
 * opened mid-run or after the end draws the whole curve, not only what it streams from then on.
 * At most {@link MAX_POINTS} points: when full, the spacing doubles and the points are thinned to it
 * (the curve keeps its shape at half the resolution), so a record stays far below the store's size limit. A job that
 * resumes from a checkpoint drops the points past it. Figures are kept to 6 significant digits.
 */
import type { JobRecord, JobStore, ListOptions } from "./store.ts";

/** What each point holds, in order (`null` where the job did not report the figure). */
export const HISTORY_COLUMNS = ["step", "loss", "lr", "grad_norm", "tokens_per_s", "forget_loss"] as const;
/** Most points kept per job. */
export const MAX_POINTS = 256;

type Point = (number | null)[];

/** A job's points and the step spacing they keep (it doubles each time the points are thinned). */
export interface History {
  stride: number;
  points: Point[];
}

const fig = (
  x: number | undefined,
) => (x === undefined || !Number.isFinite(x) ? null : Number(x.toPrecision(6)));
const stepOf = (p: Point | undefined) => (p?.[0] ?? -Infinity) as number;

/** Keep the first point, then points at least `stride` steps apart, and the last one. */
function thin(points: Point[], stride: number): Point[] {
  const out: Point[] = [];
  for (const p of points) if (!out.length || stepOf(p) - stepOf(out.at(-1)) >= stride) out.push(p);
  if (out.at(-1) !== points.at(-1)) out.push(points.at(-1)!);
  return out;
}

/**
 * The record `next` with its history extended by the progress it reports (when that changed): the
 * newest point replaces the previous one while that is closer than the stride to its predecessor.
 */
export function withPoint(prev: JobRecord, next: JobRecord): JobRecord {
  const p = next.progress, q = prev.progress;
  const figures = p.loss !== undefined || p.forget_loss !== undefined;
  if (!figures || (p.step === q.step && p.loss === q.loss && p.forget_loss === q.forget_loss)) return next;
  let { stride, points } = prev.history ?? { stride: 1, points: [] };
  points = points.filter((pt) => stepOf(pt) < p.step);
  const pt = [p.step, fig(p.loss), fig(p.lr), fig(p.grad_norm), fig(p.tokens_per_s), fig(p.forget_loss)];
  const n = points.length;
  if (n >= 2 && stepOf(points[n - 1]) - stepOf(points[n - 2]) < stride) points[n - 1] = pt;
  else points.push(pt);
  while (points.length > MAX_POINTS) points = thin(points, stride *= 2);
  return { ...next, history: { stride, points } };
}

/**
 * A store whose updates record each job's progress points (see {@link withPoint}).
 *
 * @example
 * ```ts
 * const store = withHistory(new MemoryJobStore());
 * ```
 */
export function withHistory(inner: JobStore): JobStore {
  return {
    create: (job: JobRecord) => inner.create(job),
    get: (id: string) => inner.get(id),
    update: (id: string, fn: (job: JobRecord) => JobRecord | undefined) =>
      inner.update(id, (j) => {
        const next = fn(j);
        return next && withPoint(j, next);
      }),
    list: (opts?: ListOptions) => inner.list(opts),
    remove: (id: string) => inner.remove(id),
    watch: (id: string, signal?: AbortSignal) => inner.watch(id, signal),
    close: () => inner.close(),
  };
}
