/**
 * @module SVD-free DCT projection (Modoranu et al. 2025, arXiv 2505.17967; IST-DASLab
 * ISTA-DASLab-Optimizers fft_low_rank): plain-TS references of wasm/dct.rs.
 *
 * Basis: utils/dct.py `dct3_matrix` convention, the orthonormal DCT-II matrix with rows =
 * frequencies, C[k, j] = sqrt(2/n)·c_k·cos(π k (2j+1) / (2n)), c_0 = 1/√2, c_k = 1; C Cᵀ = I.
 * The official default `sim_type='matmul'` uses Q := C as is.
 * Selection (fft_projector.py): RIGHT (m ≥ n): S = G·Q (m×n), score_k = ‖S[:, k]‖; LEFT (m < n):
 * S = Qᵀ·G (m×n), score_k = ‖S[k, :]‖; ‖·‖₁ by default (`ell_norm = 1`); top-r. The official
 * topk is unordered; here indices come by descending score, ties to the lower index, scores are
 * accumulated in f64 and NaN scores rank last.
 */
import { checkDim, checkMatrix, type DctOptions, type DctSelection, type DctSide } from "./types.ts";
import { gemm64 } from "./matmul.ts";

/**
 * The official side rule: "right" when m ≥ n, else "left"; the GQA k/v exception of
 * fft_projector.py ((512|1024)×(3584|4096) → "right") is kept.
 *
 * @example
 * ```ts
 * dctSide(768, 3072); // "left": basis size 768
 * ```
 */
export function dctSide(m: number, n: number): DctSide {
  if ((m === 512 || m === 1024) && (n === 3584 || n === 4096)) return "right";
  return m >= n ? "right" : "left";
}

/**
 * Orthonormal DCT-II matrix (n×n, row-major, rows = frequencies): `dct3_matrix(n)`.
 *
 * @example
 * ```ts
 * const q = dctBasis(768); // q[k*768 + j]
 * ```
 */
export function dctBasis(n: number): Float32Array {
  checkDim("n", n);
  const c = new Float32Array(n * n), base = Math.sqrt(2 / n);
  for (let k = 0; k < n; k++) {
    const ck = k === 0 ? base * Math.SQRT1_2 : base;
    for (let j = 0; j < n; j++) c[k * n + j] = ck * Math.cos(Math.PI * k * (2 * j + 1) / (2 * n));
  }
  return c;
}

/**
 * Validated side, basis size and norm (`basis` null: the fast path, which needs none).
 *
 * @example
 * ```ts
 * dctArgs(g, 768, 3072, basis, 128).size; // 768 (left side)
 * ```
 */
export function dctArgs(
  g: Float32Array,
  m: number,
  n: number,
  basis: Float32Array | null,
  r: number,
  o: DctOptions = {},
): { side: DctSide; size: number; norm: 1 | 2 } {
  checkDim("m", m);
  checkDim("n", n);
  checkMatrix("g", g, m, n);
  const side = o.side ?? dctSide(m, n), norm = o.norm ?? 1;
  if (side !== "right" && side !== "left") throw new Error(`side must be right or left, got ${side}`);
  if (norm !== 1 && norm !== 2) throw new Error(`norm must be 1 or 2, got ${norm}`);
  const size = side === "right" ? n : m;
  if (basis !== null) checkMatrix("basis", basis, size, size);
  if (!Number.isInteger(r) || r < 1 || r > size) {
    throw new Error(`r must be an integer in [1, ${size}], got ${r}`);
  }
  return { side, size, norm };
}

/**
 * The r DCT columns best aligned with G (largest ‖·‖ of S = G·Q or Qᵀ·G), plus S restricted to them.
 *
 * @example
 * ```ts
 * const { indices, projected } = dctTopR(grad, 768, 3072, dctBasis(768), 128); // left: 128×3072
 * ```
 */
export function dctTopR(
  g: Float32Array,
  m: number,
  n: number,
  basis: Float32Array,
  r: number,
  opts: DctOptions = {},
): DctSelection {
  const { side, size, norm } = dctArgs(g, m, n, basis, r, opts);
  const s = side === "right" ? gemm64(m, n, n, g, n, 1, basis) : gemm64(m, n, m, basis, 1, m, g);
  const acc = new Float64Array(size);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const x = Math.fround(s[i * n + j]);
      acc[side === "right" ? j : i] += norm === 2 ? Math.fround(x * x) : Math.abs(x);
    }
  }
  const { indices, scores } = topScores(acc, norm, r);
  const projected = new Float32Array(side === "right" ? m * r : r * n);
  indices.forEach((o, j) => {
    if (side === "right") { for (let i = 0; i < m; i++) projected[i * r + j] = s[i * n + o]; }
    else for (let t = 0; t < n; t++) projected[j * n + t] = s[o * n + t];
  });
  return { side, indices, scores, projected };
}

/**
 * The r best of the accumulated sums `acc` (Σ|x| or Σx²; L2 takes the root): indices by descending
 * score, ties to the lower index, NaN last.
 *
 * @example
 * ```ts
 * topScores(Float64Array.from([1, 3, 3, 2]), 1, 2).indices; // [1, 2]
 * ```
 */
export function topScores(
  acc: Float64Array,
  norm: 1 | 2,
  r: number,
): { indices: Int32Array; scores: Float32Array } {
  const score = Array.from(acc, (v) => Number.isNaN(v) ? -Infinity : norm === 2 ? Math.sqrt(v) : v);
  const ord = Array.from({ length: acc.length }, (_, k) => k).sort((x, y) => score[y] - score[x] || x - y);
  const indices = Int32Array.from(ord.slice(0, r));
  return { indices, scores: Float32Array.from(indices, (k) => score[k]) };
}
