/**
 * @module Exact top-r SVD through the Gram matrix of the small side: the plain-TS reference of
 * wasm/svd_gram.rs (svdTopR's "gram" path, chosen by shape when r + p is a large share of
 * min(m, n), e.g. 192×576 with r = 128, where the randomized finder's 2q + 2 products cost more).
 *
 * With F the big×small orientation of A (A if m ≥ n, else Aᵀ), in f64: C = FᵀF, its r largest
 * eigenpairs (eigh_top.ts) give the small side's vectors X, and W = F X the other side's, with
 * σ_j = ‖W[:, j]‖. In f64 the squared condition number costs nothing at f32 output precision:
 * W's columns are orthogonal to ≈ ε₆₄(σ₁/σ_j)², so only columns with σ_j < 1e-4·σ₁ (and null
 * directions) are re-orthonormalized, by CGS2 with seeded fills (qr.ts). Streams of the seed:
 * 0 eigen solver starts, 1 fills. Sign convention: each column of U has its largest-magnitude
 * entry positive.
 */
import type { Svd } from "./types.ts";
import { gemm64 } from "./matmul.ts";
import { orthRows } from "./qr.ts";
import { eighTop64 } from "./eigh_top.ts";

/** Directions below this share of σ₁ get re-orthonormalized (their ε₆₄(σ₁/σ_j)² loss passes 1e-8). */
export const CLEAN_BELOW = 1e-4;

/**
 * First position j in σ order with σ_j < CLEAN_BELOW·σ₁ or σ_j = 0; r if none.
 *
 * @example
 * ```ts
 * cleanStart(Float64Array.of(2, 1e-6), [0, 1]); // 1
 * ```
 */
export function cleanStart(norms: Float64Array, order: number[]): number {
  const top = norms[order[0]], j = order.findIndex((o) => !(norms[o] >= CLEAN_BELOW * top && top > 0));
  return j < 0 ? order.length : j;
}

/**
 * Column 2-norms of w (k×r) and the column order by descending norm (ties: lower index first).
 *
 * @example
 * ```ts
 * descendingColumns(Float64Array.of(1, 3, 0, 4), 2, 2).order; // [1, 0]
 * ```
 */
export function descendingColumns(
  w: Float64Array,
  k: number,
  r: number,
): { order: number[]; norms: Float64Array } {
  const norms = new Float64Array(r);
  for (let p = 0; p < k; p++) for (let j = 0; j < r; j++) norms[j] += w[p * r + j] * w[p * r + j];
  for (let j = 0; j < r; j++) norms[j] = Math.sqrt(norms[j]);
  const order = Array.from({ length: r }, (_, j) => j).sort((x, y) => norms[y] - norms[x] || x - y);
  return { order, norms };
}

/**
 * Flip (u[:, j], vt[j, :]) so that u[:, j]'s largest-magnitude entry is positive.
 *
 * @example
 * ```ts
 * fixSigns(u, vt, m, n, r);
 * ```
 */
export function fixSigns(u: Float64Array, vt: Float64Array, m: number, n: number, r: number): void {
  for (let j = 0; j < r; j++) {
    let at = 0;
    for (let i = 1; i < m; i++) if (Math.abs(u[i * r + j]) > Math.abs(u[at * r + j])) at = i;
    if (u[at * r + j] < 0) {
      for (let i = 0; i < m; i++) u[i * r + j] = -u[i * r + j];
      for (let i = 0; i < n; i++) vt[j * n + i] = -vt[j * n + i];
    }
  }
}

/**
 * Exact top-r SVD of a (m×n) from the eigenpairs of its small Gram matrix (arguments as checked
 * by `svdArgs`); what `svdTopR(a, m, n, r, { method: "gram" })` runs.
 *
 * @example
 * ```ts
 * const { u, s, vt } = svdGram(grad, 192, 576, 128, 0);
 * ```
 */
export function svdGram(a: Float32Array, m: number, n: number, r: number, seed: number): Svd {
  const [sm, big] = m >= n ? [n, m] : [m, n];
  const f = new Float64Array(big * sm);
  if (m >= n) f.set(a);
  else for (let i = 0; i < m; i++) for (let p = 0; p < n; p++) f[p * m + i] = a[i * n + p];
  const { vectors: x } = eighTop64(gemm64(sm, sm, big, f, 1, sm, f), sm, r, seed, 0);
  const w = gemm64(big, r, sm, f, sm, 1, x);
  const { order, norms } = descendingColumns(w, big, r);
  const rows = new Float64Array(r * big), s = new Float32Array(r);
  for (let j = 0; j < r; j++) {
    const o = order[j], sg = norms[o], inv = sg > 0 ? 1 / sg : 0;
    for (let i = 0; i < big; i++) rows[j * big + i] = w[i * r + o] * inv;
    s[j] = sg;
  }
  orthRows(rows, big, r, null, seed, 1, undefined, cleanStart(norms, order));
  const u = new Float64Array(m * r), vt = new Float64Array(r * n);
  for (let j = 0; j < r; j++) {
    const o = order[j];
    for (let i = 0; i < m; i++) u[i * r + j] = m >= n ? rows[j * m + i] : x[i * r + o];
    for (let i = 0; i < n; i++) vt[j * n + i] = m >= n ? x[i * r + o] : rows[j * n + i];
  }
  fixSigns(u, vt, m, n, r);
  return { u: Float32Array.from(u), s, vt: Float32Array.from(vt) };
}
