//! Top-r SVD, two paths picked by the caller (src/linalg/types.ts `svdMethod`, by shape):
//! method 1 is the exact Gram-matrix path of svd_gram.rs; method 0, here, is randomized subspace
//! iteration (Halko, Martinsson & Tropp 2011, Alg. 4.4: QR re-orthonormalization after every
//! product) with a Rayleigh-Ritz finish: Bᵀ = AᵀQ₁ = Q₂R, then the small SVD of R from the top-r
//! eigenpairs of RᵀR (eigh_top.rs, f64; RᵀR squares the condition number, harmless in f64 for the
//! spread f32 gradients can hold), so A ≈ (Q₁V_R) Σ (Q₂U_R)ᵀ with U_R = R V_R Σ⁻¹, re-orthonormalized
//! by CGS2 where σ_j < 1e-4·σ₁. The test matrix Ω is the sparse sign sketch of sketch.rs; the other
//! products are f32 SIMD GEMMs and every tall QR is the f32 BCGS2 of qr_block.rs. Streams of
//! `seed`: 0 Ω; 1, 2, … the QR fills in call order; then the eigen solver's starts; then U_R's
//! fills. Sign convention: each left singular vector's largest-magnitude entry is positive.
//! Mirrors src/linalg/svd.ts.
use crate::eigh_top::eigh_top;
use crate::gemm::gemm;
use crate::gemm64::gemm64;
use crate::math::{abs32, sqrt64};
use crate::qr::orth_rows_from;
use crate::qr_block::bcgs2;
use crate::scratch;
use crate::sketch::sparse_sign_sketch;
use crate::svd_gram::svd_gram;

/// u (m×r), s (r), vt (r×n) ≈ top-r SVD of a (m×n); requires 1 ≤ r ≤ min(m, n).
pub unsafe fn svd_top_r(
    a: *const f32, m: usize, n: usize, r: usize, oversample: usize, power_iters: usize, seed: u32,
    method: u32, u: *mut f32, s: *mut f32, vt: *mut f32,
) {
    if method == 1 {
        return svd_gram(a, m, n, r, seed, u, s, vt);
    }
    let small = if m < n { m } else { n };
    let kk = if r + oversample < small { r + oversample } else { small };
    // q1 = orth(A Ω); then q times: q2 = orth(Aᵀ q1), q1 = orth(A q2)
    let (q1, q2) = (scratch::<f32>(m * kk), scratch::<f32>(n * kk));
    sparse_sign_sketch(a, m, n, kk, seed, q1);
    bcgs2(q1, m, kk, core::ptr::null_mut(), seed, 1);
    let mut stream = 2;
    for _ in 0..power_iters {
        gemm(n, kk, m, a, 1, n, q1, kk, q2, kk, false);
        bcgs2(q2, n, kk, core::ptr::null_mut(), seed, stream);
        gemm(m, kk, n, a, n, 1, q2, kk, q1, kk, false);
        bcgs2(q1, m, kk, core::ptr::null_mut(), seed, stream + 1);
        stream += 2;
    }
    // Bᵀ = Aᵀ q1 = q2 R; top-r eigenpairs of RᵀR give V_R (kk×r, columns) and Σ²
    gemm(n, kk, m, a, 1, n, q1, kk, q2, kk, false);
    let (rr, g) = (scratch::<f64>(kk * kk), scratch::<f64>(kk * kk));
    bcgs2(q2, n, kk, rr, seed, stream);
    gemm64(kk, kk, kk, rr, 1, kk, rr, kk, g, kk, false, true);
    let (lam, vr) = (scratch::<f64>(r), scratch::<f64>(kk * r));
    eigh_top(g, kk, r, seed, stream + 1, lam, vr);
    // W = R V_R: column j has norm σ_j and direction U_R[:, j]
    let w = scratch::<f64>(kk * r);
    gemm64(kk, r, kk, rr, kk, 1, vr, r, w, r, false, false);
    let sigma = column_norms(w, kk, r);
    let ord = descending(sigma, r);
    let usel = scratch::<f64>(r * kk);
    for j in 0..r {
        let o = *ord.add(j) as usize;
        let sg = *sigma.add(o);
        let inv = if sg > 0.0 { 1.0 / sg } else { 0.0 };
        for p in 0..kk {
            *usel.add(j * kk + p) = *w.add(p * r + o) * inv;
        }
        *s.add(j) = sg as f32;
    }
    // U_R = R V_R Σ⁻¹ is orthogonal to ε₆₄(σ₁/σ_j)² already; CGS2 for the small and null directions
    orth_rows_from(usel, kk, r, clean_start(sigma, ord, r), core::ptr::null_mut(), seed, stream + 2);
    // U = q1 V_R[:, ord]; V = q2 U_R (n×r), stored transposed
    let (vsel, ut) = (scratch::<f32>(kk * r), scratch::<f32>(kk * r));
    for j in 0..r {
        let o = *ord.add(j) as usize;
        for p in 0..kk {
            *vsel.add(p * r + j) = *vr.add(p * r + o) as f32;
            *ut.add(p * r + j) = *usel.add(j * kk + p) as f32;
        }
    }
    gemm(m, r, kk, q1, kk, 1, vsel, r, u, r, false);
    let v = scratch::<f32>(n * r);
    gemm(n, r, kk, q2, kk, 1, ut, r, v, r, false);
    for j in 0..r {
        for i in 0..n {
            *vt.add(j * n + i) = *v.add(i * r + j);
        }
    }
    fix_signs(u, vt, m, n, r);
}

/// Directions below this share of σ₁ get re-orthonormalized (their ε₆₄(σ₁/σ_j)² loss passes 1e-8).
pub const CLEAN_BELOW: f64 = 1e-4;

/// First position j (in σ order) with σ_j < CLEAN_BELOW·σ₁ or σ_j = 0; r if none.
pub unsafe fn clean_start(sigma: *const f64, ord: *const u32, r: usize) -> usize {
    let top = *sigma.add(*ord as usize);
    (0..r).find(|&j| !(*sigma.add(*ord.add(j) as usize) >= CLEAN_BELOW * top && top > 0.0)).unwrap_or(r)
}

/// 2-norms of the r columns of w (k×r).
pub unsafe fn column_norms(w: *const f64, k: usize, r: usize) -> *mut f64 {
    let norms = scratch::<f64>(r);
    core::ptr::write_bytes(norms, 0, r);
    for p in 0..k {
        for j in 0..r {
            *norms.add(j) += *w.add(p * r + j) * *w.add(p * r + j);
        }
    }
    for j in 0..r {
        *norms.add(j) = sqrt64(*norms.add(j));
    }
    norms
}

/// Indices 0..r by descending x, ties to the lower index.
pub unsafe fn descending(x: *const f64, r: usize) -> *const u32 {
    let order = scratch::<u32>(r);
    for j in 0..r {
        *order.add(j) = j as u32;
    }
    let ord = core::slice::from_raw_parts_mut(order, r);
    ord.sort_unstable_by(|&p, &q| {
        let (sp, sq) = (*x.add(p as usize), *x.add(q as usize));
        sq.partial_cmp(&sp).unwrap_or(core::cmp::Ordering::Equal).then(p.cmp(&q))
    });
    order
}

/// Flip (u[:, j], vt[j, :]) so that u[:, j]'s largest-magnitude entry is positive.
pub unsafe fn fix_signs(u: *mut f32, vt: *mut f32, m: usize, n: usize, r: usize) {
    for j in 0..r {
        let (mut best, mut at) = (-1.0f32, 0);
        for i in 0..m {
            let x = abs32(*u.add(i * r + j));
            if x > best {
                best = x;
                at = i;
            }
        }
        if *u.add(at * r + j) < 0.0 {
            for i in 0..m {
                *u.add(i * r + j) = -*u.add(i * r + j);
            }
            for i in 0..n {
                *vt.add(j * n + i) = -*vt.add(j * n + i);
            }
        }
    }
}
