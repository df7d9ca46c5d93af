/**
 * @module Step length along a fixed direction by measurement (K-FADE's steps and its retain correction):
 * bracket by factors of 4 from a first guess, then geometric bisection; the weights are restored after every
 * trial.
 */
import { addScaled, type Weights } from "../models/weights.ts";

/**
 * η along `dir` where `crit(θ + ηΔ)` (increasing in η) meets `goal`: bracket by factors of 4 from `eta0`, then
 * 6 geometric bisections. "reach": the smallest bracketed η with crit ≥ goal; "stay-below": the largest with
 * crit ≤ goal. A non-finite or non-positive `eta0` starts at 1. The weights are restored after each trial.
 *
 * @example
 * ```ts ignore
 * const eta = await searchStep(weights, dir, 1e-3, targetLoss, forgetLoss, "reach");
 * ```
 */
export async function searchStep(
  w: Weights,
  dir: Map<string, Float32Array>,
  eta0: number,
  goal: number,
  crit: () => Promise<number>,
  side: "reach" | "stay-below",
): Promise<number> {
  const at = async (eta: number) => await measureAt(w, dir, eta, crit);
  const start = Number.isFinite(eta0) && eta0 > 0 ? eta0 : 1;
  let lo = start, hi = start;
  if ((await at(start)) < goal) {
    for (let i = 0; i < 12 && (await at(hi *= 4)) < goal; i++) lo = hi;
    if (lo === hi) return hi; // never reached the goal: take the largest step tried
  } else {
    for (let i = 0; i < 16 && (await at(lo /= 4)) >= goal; i++) hi = lo;
    if (lo === hi) return side === "reach" ? hi : 0;
  }
  for (let i = 0; i < 6; i++) {
    const mid = Math.sqrt(lo * hi);
    if ((await at(mid)) < goal) lo = mid;
    else hi = mid;
  }
  return side === "reach" ? hi : lo;
}

/**
 * `crit()` at θ + ηΔ, with θ restored afterwards (non-finite values read as +∞).
 *
 * @example
 * ```ts ignore
 * const kl = await measureAt(weights, dir, 0.5, retainKl);
 * ```
 */
export async function measureAt(
  w: Weights,
  dir: Map<string, Float32Array>,
  eta: number,
  crit: () => Promise<number>,
): Promise<number> {
  const saved = new Map([...dir.keys()].map((k) => [k, Float32Array.from(w.get(k)!)]));
  addScaled(w, dir, eta);
  try {
    const c = await crit();
    return Number.isFinite(c) ? c : Infinity;
  } finally {
    for (const [k, v] of saved) w.get(k)!.set(v);
  }
}
