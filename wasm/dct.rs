//! SVD-free DCT projection (Modoranu et al. 2025, arXiv 2505.17967; ISTA-DASLab-Optimizers
//! fft_low_rank): the orthonormal DCT-II matrix of utils/dct.py `dct3_matrix` (rows =
//! frequencies), and dynamic column selection by alignment score: RIGHT S = G·Q (column norms),
//! LEFT S = Qᵀ·G (row norms), top-r by ‖·‖₁ (default) or ‖·‖₂, ties to the lower index.
//! Mirrors src/linalg/dct.ts.
use crate::gemm::gemm;
use crate::math::{abs32, cos_half_pi_frac, sqrt64};
use crate::scratch;
use core::arch::wasm32::*;

/// C[k, j] = sqrt(2/n)·c_k·cos(π k (2j+1) / (2n)), c_0 = 1/√2, c_k = 1.
pub unsafe fn dct_basis(n: usize, out: *mut f32) {
    let base = sqrt64(2.0 / n as f64);
    for k in 0..n {
        let ck = if k == 0 { base * core::f64::consts::FRAC_1_SQRT_2 } else { base };
        for j in 0..n {
            let p = (k as u64) * (2 * j as u64 + 1);
            *out.add(k * n + j) = (ck * cos_half_pi_frac(p, n as u64)) as f32;
        }
    }
}

/// idx/scores (r) of the best columns of G·Q (side 0, Q n×n) or rows of Qᵀ·G (side 1, Q m×m);
/// proj gets S[:, idx] (m×r) or S[idx, :] (r×n).
pub unsafe fn dct_top_r(
    g: *const f32, m: usize, n: usize, basis: *const f32, side: u32, r: usize, norm: u32,
    idx: *mut i32, scores: *mut f32, proj: *mut f32,
) {
    let sm = scratch::<f32>(m * n);
    let big = if m > n { m } else { n };
    let acc = scratch::<f64>(big);
    let l2 = norm == 2;
    let count = if side == 0 { n } else { m };
    if side == 0 {
        gemm(m, n, n, g, n, 1, basis, n, sm, n, false);
        core::ptr::write_bytes(acc, 0, n);
        for i in 0..m {
            let row = sm.add(i * n);
            let mut k = 0;
            while k + 4 <= n {
                let x = v128_load(row.add(k) as *const v128);
                let x = if l2 { f32x4_mul(x, x) } else { f32x4_abs(x) };
                let lo = f64x2_promote_low_f32x4(x);
                let hi = f64x2_promote_low_f32x4(i32x4_shuffle::<2, 3, 2, 3>(x, x));
                let (a0, a1) = (acc.add(k) as *mut v128, acc.add(k + 2) as *mut v128);
                v128_store(a0, f64x2_add(v128_load(a0), lo));
                v128_store(a1, f64x2_add(v128_load(a1), hi));
                k += 4;
            }
            while k < n {
                let x = *row.add(k);
                *acc.add(k) += if l2 { (x * x) as f64 } else { abs32(x) as f64 };
                k += 1;
            }
        }
    } else {
        gemm(m, n, m, basis, 1, m, g, n, sm, n, false);
        for k in 0..m {
            let row = sm.add(k * n);
            let mut s = f64x2_splat(0.0);
            let mut j = 0;
            while j + 4 <= n {
                let x = v128_load(row.add(j) as *const v128);
                let x = if l2 { f32x4_mul(x, x) } else { f32x4_abs(x) };
                s = f64x2_add(s, f64x2_promote_low_f32x4(x));
                s = f64x2_add(s, f64x2_promote_low_f32x4(i32x4_shuffle::<2, 3, 2, 3>(x, x)));
                j += 4;
            }
            let mut t = f64x2_extract_lane::<0>(s) + f64x2_extract_lane::<1>(s);
            while j < n {
                let x = *row.add(j);
                t += if l2 { (x * x) as f64 } else { abs32(x) as f64 };
                j += 1;
            }
            *acc.add(k) = t;
        }
    }
    top_scores(acc, count, r, l2, idx, scores);
    for j in 0..r {
        let o = *idx.add(j) as usize;
        if side == 0 {
            for i in 0..m {
                *proj.add(i * r + j) = *sm.add(i * n + o);
            }
        } else {
            core::ptr::copy_nonoverlapping(sm.add(o * n), proj.add(j * n), n);
        }
    }
}

/// Finish the sums in `acc` (L2: root; NaN → −∞) and write the r best: idx by descending score,
/// ties to the lower index.
pub unsafe fn top_scores(acc: *mut f64, count: usize, r: usize, l2: bool, idx: *mut i32, scores: *mut f32) {
    for k in 0..count {
        let v = *acc.add(k);
        *acc.add(k) = if v == v { if l2 { sqrt64(v) } else { v } } else { f64::NEG_INFINITY };
    }
    let order = scratch::<u32>(count);
    for k in 0..count {
        *order.add(k) = k as u32;
    }
    let ord = core::slice::from_raw_parts_mut(order, count);
    ord.sort_unstable_by(|&x, &y| {
        let (sx, sy) = (*acc.add(x as usize), *acc.add(y as usize));
        sy.partial_cmp(&sx).unwrap_or(core::cmp::Ordering::Equal).then(x.cmp(&y))
    });
    for j in 0..r {
        let o = ord[j] as usize;
        *idx.add(j) = o as i32;
        *scores.add(j) = *acc.add(o) as f32;
    }
}
