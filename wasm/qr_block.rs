//! Thin QR of a tall f32 matrix by block classical Gram-Schmidt with reorthogonalization (BCGS2,
//! Barlow & Smoktunowicz 2013): columns in blocks of 8; each block is projected out of the earlier
//! columns with f32 SIMD GEMMs (C = Q_{<j}ᵀ Y_b, Y_b −= Q_{<j} C), a second time only when a
//! column lost more than 1 − 1/√2 of its norm (the DGKS criterion: otherwise one pass is already
//! orthogonal to working precision; sketches of flat spectra mostly skip it), then orthonormalized
//! inside the block by CholeskyQR2 in f64 (Fukaya et al. 2014: Gram matrix and R⁻¹ as small f64
//! GEMMs over the block copied to f64 rows; the second pass only for blocks with condition above
//! 1e3, since one f64 pass leaves ε₆₄κ² below f32 rounding), falling back to CGS2 in f64 when a
//! column is rank-deficient. Most multiply-adds run in the blocked GEMM kernels instead of f64
//! dot/axpy sweeps: ~3× faster than qr.rs on svdTopR's power-iteration bases (m×136), with
//! orthogonality at f32 level (≈1e-7·√m). A column whose residual falls below 1e-5 of its original
//! norm (f32 rounding sits near 1e-6 for m in the thousands) is replaced by uniform noise from the
//! seeded stream, orthogonalized against every earlier column; its R diagonal keeps the residual
//! norm. In exact arithmetic all of this is column-wise CGS2, which is what the TS mirror runs:
//! src/linalg/qr.ts `orthRows` with tol = BLOCK_DEFICIENT.
use crate::gemm::gemm;
use crate::gemm64::gemm64;
use crate::math::{axpy64, dot64, sqrt64, stream_state, uniform_pm1};
use crate::scratch;

const BW: usize = 8;
const DEFICIENT: f64 = 1e-5;

/// Orthonormalize the columns of y (m×k f32, row stride k) in place; r (k×k f64, upper) receives
/// R with Y = QR if non-null. Requires k ≤ m.
pub unsafe fn bcgs2(y: *mut f32, m: usize, k: usize, r: *mut f64, seed: u32, stream: u32) {
    if !r.is_null() {
        core::ptr::write_bytes(r, 0, k * k);
    }
    let mut state = stream_state(seed, stream);
    let norm0 = scratch::<f64>(k);
    core::ptr::write_bytes(norm0, 0, k);
    for i in 0..m {
        for j in 0..k {
            let x = *y.add(i * k + j) as f64;
            *norm0.add(j) += x * x;
        }
    }
    let (cb, blk, c) = (scratch::<f32>(k * BW), scratch::<f64>(BW * m), scratch::<f64>(k + BW * BW));
    let w2 = scratch::<f64>(2 * BW * m);
    let mut j0 = 0;
    while j0 < k {
        let bw = if k - j0 < BW { k - j0 } else { BW };
        // project out the earlier columns; a second pass only if some column lost over 1 − 1/√2
        // of its norm to the first (Daniel-Gragg-Kaufman-Stewart criterion)
        let mut pass = 0;
        while j0 > 0 && pass < 2 {
            gemm(j0, bw, m, y, 1, k, y.add(j0), k, cb, bw, false);
            for i in 0..j0 * bw {
                if !r.is_null() {
                    *r.add((i / bw) * k + j0 + i % bw) += *cb.add(i) as f64;
                }
                *cb.add(i) = -*cb.add(i);
            }
            gemm(m, bw, j0, y, k, 1, cb, bw, y.add(j0), k, true);
            pass += 1;
            if pass == 1 && !cancelled(y.add(j0), m, k, bw, norm0.add(j0), c) {
                break;
            }
        }
        if !chol_qr2(y.add(j0), m, k, bw, norm0.add(j0), r, j0, w2) {
            cgs2_block(y, m, k, j0, bw, norm0, r, &mut state, blk, c);
        }
        j0 += bw;
    }
}

/// Orthonormalize the bw columns of the block y (m rows, stride k; columns j0.. of the full
/// matrix, already free of the earlier ones) by CholeskyQR twice in f64: the block is copied to
/// f64 rows, G = XᵀX and X ← X R⁻¹ are f64 GEMMs (R⁻¹ explicit: R's condition is at most 1e5
/// here, so its backward error stays near 1e-11); the second pass runs only when the first
/// block's condition bound ‖R‖‖R⁻¹‖ reaches 1e3. R's diagonal block gets R₂R₁. Returns
/// false, leaving y untouched, if a residual norm R₁[t][t] is below DEFICIENT of the column's
/// original norm (then `cgs2_block` runs, with its noise fills). w: 2·m·BW scratch.
unsafe fn chol_qr2(
    y: *mut f32, m: usize, k: usize, bw: usize, norm0: *const f64, r: *mut f64, j0: usize, w: *mut f64,
) -> bool {
    let (mut cur, mut nxt) = (w, w.add(m * BW));
    for i in 0..m {
        for t in 0..bw {
            *cur.add(i * bw + t) = *y.add(i * k + t) as f64;
        }
    }
    let mut rf = [[[0.0f64; BW]; BW]; 2];
    let (mut g, mut inv) = ([0.0f64; BW * BW], [0.0f64; BW * BW]);
    for pass in 0..2 {
        gemm64(bw, bw, m, cur, 1, bw, cur, bw, g.as_mut_ptr(), bw, false, true);
        // G = FᵀF, F upper
        let f = &mut rf[pass];
        for t in 0..bw {
            let mut d = g[t * bw + t];
            for q in 0..t {
                d -= f[q][t] * f[q][t];
            }
            // pass 0: F[t][t] is column t's residual, the deficiency test of CGS2; pass 1 works
            // on orthonormal-to-rounding columns, d ≈ 1
            if pass == 0 && !(sqrt64(d) > DEFICIENT * sqrt64(*norm0.add(t))) {
                return false;
            }
            f[t][t] = sqrt64(d);
            for u in t + 1..bw {
                let mut v = g[t * bw + u];
                for q in 0..t {
                    v -= f[q][t] * f[q][u];
                }
                f[t][u] = v / f[t][t];
            }
        }
        // inv = F⁻¹ (upper) by back substitution, column by column; then X ← X F⁻¹
        for c in 0..bw {
            for s in (0..bw).rev() {
                let mut v = if s == c { 1.0 } else { 0.0 };
                if s <= c {
                    for q in s + 1..=c {
                        v -= f[s][q] * inv[q * bw + c];
                    }
                    v /= f[s][s];
                }
                inv[s * bw + c] = v;
            }
        }
        gemm64(m, bw, bw, cur, bw, 1, inv.as_ptr(), bw, nxt, bw, false, false);
        core::mem::swap(&mut cur, &mut nxt);
        if pass == 0 && cond_f(f, &inv, bw) < 1e3 {
            // one pass left X orthogonal to ε₆₄κ² < 1e-10, below f32 storage: R = R₁
            rf[1] = [[0.0; BW]; BW];
            for t in 0..bw {
                rf[1][t][t] = 1.0;
            }
            break;
        }
    }
    for i in 0..m {
        for t in 0..bw {
            *y.add(i * k + t) = *cur.add(i * bw + t) as f32;
        }
    }
    if !r.is_null() {
        for s in 0..bw {
            for t in s..bw {
                let mut v = 0.0;
                for q in s..=t {
                    v += rf[1][s][q] * rf[0][q][t];
                }
                *r.add((j0 + s) * k + j0 + t) = v;
            }
        }
    }
    true
}

/// ‖F‖_F·‖F⁻¹‖_F, an upper bound of the block's condition number.
fn cond_f(f: &[[f64; BW]; BW], inv: &[f64; BW * BW], bw: usize) -> f64 {
    let (mut a, mut b) = (0.0, 0.0);
    for s in 0..bw {
        for t in s..bw {
            a += f[s][t] * f[s][t];
            b += inv[s * bw + t] * inv[s * bw + t];
        }
    }
    sqrt64(a * b)
}

/// Orthonormalize block columns j0..j0+bw of y (already free of the earlier columns) by CGS2 in
/// f64, refilling deficient ones with noise orthogonal to every earlier column; R's block rows
/// j0.. get the coefficients. The fallback of `chol_qr2`.
unsafe fn cgs2_block(
    y: *mut f32, m: usize, k: usize, j0: usize, bw: usize, norm0: *const f64, r: *mut f64, state: &mut u32,
    blk: *mut f64, c: *mut f64,
) {
    for i in 0..m {
        for t in 0..bw {
            *blk.add(t * m + i) = *y.add(i * k + j0 + t) as f64;
        }
    }
    for t in 0..bw {
        let (j, v) = (j0 + t, blk.add(t * m));
        for _ in 0..2 {
            for i in 0..t {
                let ci = dot64(blk.add(i * m), v, m);
                axpy64(-ci, blk.add(i * m), v, m);
                if !r.is_null() {
                    *r.add((j0 + i) * k + j) += ci;
                }
            }
        }
        let mut nrm = sqrt64(dot64(v, v, m));
        if !r.is_null() {
            *r.add(j * k + j) = nrm;
        }
        let mut deficient = !(nrm > DEFICIENT * sqrt64(*norm0.add(j)));
        let mut tries = 0;
        while deficient && tries < 4 {
            for i in 0..m {
                *v.add(i) = uniform_pm1(state) as f64;
            }
            let fresh = sqrt64(dot64(v, v, m));
            for _ in 0..2 {
                project_columns(y, m, k, j0, v, c);
                for i in 0..t {
                    axpy64(-dot64(blk.add(i * m), v, m), blk.add(i * m), v, m);
                }
            }
            nrm = sqrt64(dot64(v, v, m));
            deficient = !(nrm > DEFICIENT * fresh);
            if deficient {
                nrm = 0.0;
            }
            tries += 1;
        }
        let inv = if nrm > 0.0 { 1.0 / nrm } else { 0.0 };
        for i in 0..m {
            *v.add(i) *= inv;
        }
    }
    for i in 0..m {
        for t in 0..bw {
            *y.add(i * k + j0 + t) = *blk.add(t * m + i) as f32;
        }
    }
}

/// Whether some column t < bw of y (row stride k) has a squared norm below half of norm0[t]
/// (squared norms); c is scratch.
unsafe fn cancelled(y: *const f32, m: usize, k: usize, bw: usize, norm0: *const f64, c: *mut f64) -> bool {
    core::ptr::write_bytes(c, 0, bw);
    for i in 0..m {
        for t in 0..bw {
            let x = *y.add(i * k + t) as f64;
            *c.add(t) += x * x;
        }
    }
    (0..bw).any(|t| !(*c.add(t) >= 0.5 * *norm0.add(t)))
}

/// v −= Q cᵀ with c = Qᵀ v, Q = the first `cols` columns of y (m×k f32); c is scratch.
unsafe fn project_columns(y: *const f32, m: usize, k: usize, cols: usize, v: *mut f64, c: *mut f64) {
    core::ptr::write_bytes(c, 0, cols);
    for i in 0..m {
        let vi = *v.add(i);
        for p in 0..cols {
            *c.add(p) += *y.add(i * k + p) as f64 * vi;
        }
    }
    for i in 0..m {
        let mut s = 0.0;
        for p in 0..cols {
            s += *y.add(i * k + p) as f64 * *c.add(p);
        }
        *v.add(i) -= s;
    }
}
