/**
 * @module Top-r SVD: the plain-TS reference of wasm/svd.rs (same algorithm and random streams, f64).
 * Path by shape (types.ts `svdMethod`) or `opts.method`: "gram", the exact small-Gram path of svd_gram.ts,
 * or "randomized" (here; Halko, Martinsson & Tropp 2011, Alg. 4.4): Y = AΩ, Q₁ = orth(Y), q times
 * Q₂ = orth(AᵀQ₁), Q₁ = orth(AQ₂); Rayleigh-Ritz: Bᵀ = AᵀQ₁ = Q₂R, R's SVD from the top-r eigenpairs of RᵀR
 * (eigh_top.ts), U_R = R V_R Σ⁻¹ (CGS2 where σ_j < 1e-4·σ₁), A ≈ (Q₁V_R) Σ (Q₂U_R)ᵀ. Defaults p = 8, q = 2
 * (§4.5: p ≈ 5–10, q = 1–2; README "Fine-tuning methods" on q). Ω: sketch.ts's sparse signs (8 per row, so
 * AΩ costs m·n·8). Tall QRs mirror wasm/qr_block.rs (column CGS2, BLOCK_DEFICIENT). Streams: 0 Ω; 1, 2, …
 * the QRs in call order; the eigen solver's starts; U_R's fills. Left singular vectors: largest entry > 0.
 */
import { type Svd, svdArgs, type SvdOptions } from "./types.ts";
import { sparseSignSketch } from "./sketch.ts";
import { gemm64 } from "./matmul.ts";
import { BLOCK_DEFICIENT, fromRows, orthRows, toRows } from "./qr.ts";
import { eighTop64 } from "./eigh_top.ts";
import { cleanStart, descendingColumns, fixSigns, svdGram } from "./svd_gram.ts";

/**
 * Top-r SVD of a (m×n): U m×r, S (descending), Vt r×n.
 *
 * @example
 * ```ts
 * const { u, s, vt } = svdTopR(grad, 768, 3072, 128, { seed: 1 }); // GaLore projector: u or vt
 * ```
 */
export function svdTopR(a: Float32Array, m: number, n: number, r: number, opts: SvdOptions = {}): Svd {
  const { powerIters, seed, kk, method } = svdArgs(a, m, n, r, opts);
  if (method === "gram") return svdGram(a, m, n, r, seed);
  const orth = (y: Float64Array, rows: number, stream: number) => {
    const w = toRows(y, rows, kk);
    orthRows(w, rows, kk, null, seed, stream, BLOCK_DEFICIENT);
    return fromRows(w, rows, kk);
  };
  let q1 = orth(sparseSignSketch(a, m, n, kk, seed), m, 1);
  let stream = 2;
  for (let it = 0; it < powerIters; it++) {
    const q2 = orth(gemm64(n, kk, m, a, 1, n, q1), n, stream);
    q1 = orth(gemm64(m, kk, n, a, n, 1, q2), m, stream + 1);
    stream += 2;
  }
  const w = toRows(gemm64(n, kk, m, a, 1, n, q1), n, kk); // rows → Q₂ᵀ (kk×n)
  const rr = new Float64Array(kk * kk);
  orthRows(w, n, kk, rr, seed, stream, BLOCK_DEFICIENT);
  const { vectors: vr } = eighTop64(gemm64(kk, kk, kk, rr, 1, kk, rr), kk, r, seed, stream + 1);
  const wr = gemm64(kk, r, kk, rr, kk, 1, vr); // W = R V_R: columns σ_j · U_R[:, j]
  const { order, norms } = descendingColumns(wr, kk, r);
  const usel = new Float64Array(r * kk), s = new Float32Array(r), vsel = new Float64Array(kk * r);
  for (let j = 0; j < r; j++) {
    const o = order[j], inv = norms[o] > 0 ? 1 / norms[o] : 0;
    for (let p = 0; p < kk; p++) {
      usel[j * kk + p] = wr[p * r + o] * inv;
      vsel[p * r + j] = vr[p * r + o];
    }
    s[j] = norms[o];
  }
  // U_R = R V_R Σ⁻¹ is orthogonal to ε₆₄(σ₁/σ_j)² already; CGS2 for the small and null directions
  orthRows(usel, kk, r, null, seed, stream + 2, undefined, cleanStart(norms, order));
  const u = gemm64(m, r, kk, q1, kk, 1, vsel), vt = gemm64(r, n, kk, usel, kk, 1, w);
  fixSigns(u, vt, m, n, r);
  return { u: Float32Array.from(u), s, vt: Float32Array.from(vt) };
}
