/** @module Global gradient-norm clipping (`torch.nn.utils.clip_grad_norm_`, HF default max norm 1.0). */

/**
 * Scale gradients in place by min(1, maxNorm / norm) for a global `norm` computed elsewhere (e.g. over
 * full gradients streamed before their projection: clipping commutes with linear projections).
 * Returns `norm`.
 */
export function scaleToNorm(grads: Iterable<Float32Array>, norm: number, maxNorm: number): number {
  if (maxNorm > 0 && norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= s;
  }
  return norm;
}

/** Scale all gradients in place so their global L2 norm is at most `maxNorm`; returns the norm before. */
export function clipGradNorm(grads: Iterable<Float32Array>, maxNorm: number): number {
  const gs = [...grads];
  let sq = 0;
  for (const g of gs) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  if (maxNorm > 0 && norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const g of gs) for (let i = 0; i < g.length; i++) g[i] *= s;
  }
  return norm;
}
