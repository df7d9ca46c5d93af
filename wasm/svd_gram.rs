//! Exact top-r SVD through the Gram matrix of the small side (svdTopR method 1, chosen by shape
//! when r + p is a large share of min(m, n), e.g. 192×576 with r = 128, where the randomized
//! finder's 2q + 2 products cost more than one Gram product). With F the big×small orientation
//! of A (A if m ≥ n, else Aᵀ) converted to f64: C = FᵀF (half the tiles, f64 SIMD GEMM), its r
//! largest eigenpairs (eigh_top.rs: tridiagonalization, QL values, inverse iteration) give the
//! small side's vectors X, and W = F X gives the other side, σ_j = ‖W[:, j]‖. All of it in f64, so
//! the squared condition number costs nothing at f32 output precision: W's columns are orthogonal
//! to ≈ ε₆₄(σ₁/σ_j)²; columns with σ_j < 1e-4·σ₁ (≥ 1e-8 loss) and null directions are
//! re-orthonormalized by CGS2 with seeded fills (qr.rs). Streams of `seed`: 0 eigen solver starts,
//! 1 fills. Mirrors src/linalg/svd_gram.ts.
use crate::eigh_top::eigh_top;
use crate::gemm64::gemm64;
use crate::qr::orth_rows_from;
use crate::scratch;
use crate::svd::{clean_start, column_norms, descending, fix_signs};

/// u (m×r), s (r), vt (r×n) = top-r SVD of a (m×n) from the eigenpairs of its small Gram matrix.
pub unsafe fn svd_gram(a: *const f32, m: usize, n: usize, r: usize, seed: u32, u: *mut f32, s: *mut f32, vt: *mut f32) {
    let (sm, big) = if m >= n { (n, m) } else { (m, n) };
    let f = scratch::<f64>(big * sm);
    if m >= n {
        for i in 0..m * n {
            *f.add(i) = *a.add(i) as f64;
        }
    } else {
        for i in 0..m {
            for p in 0..n {
                *f.add(p * m + i) = *a.add(i * n + p) as f64;
            }
        }
    }
    let c = scratch::<f64>(sm * sm);
    gemm64(sm, sm, big, f, 1, sm, f, sm, c, sm, false, true);
    let (lam, x) = (scratch::<f64>(r), scratch::<f64>(sm * r));
    eigh_top(c, sm, r, seed, 0, lam, x);
    let w = scratch::<f64>(big * r);
    gemm64(big, r, sm, f, sm, 1, x, r, w, r, false, false);
    let sigma = column_norms(w, big, r);
    let ord = descending(sigma, r);
    // rows of `rows` = W's columns in σ order, normalized; the small ones get CGS2
    let rows = scratch::<f64>(r * big);
    for j in 0..r {
        let o = *ord.add(j) as usize;
        let sg = *sigma.add(o);
        let inv = if sg > 0.0 { 1.0 / sg } else { 0.0 };
        for i in 0..big {
            *rows.add(j * big + i) = *w.add(i * r + o) * inv;
        }
        *s.add(j) = sg as f32;
    }
    let clean = clean_start(sigma, ord, r);
    orth_rows_from(rows, big, r, clean, core::ptr::null_mut(), seed, 1);
    // small side = X[:, ord], big side = rows
    for j in 0..r {
        let o = *ord.add(j) as usize;
        for i in 0..m {
            *u.add(i * r + j) = if m >= n { *rows.add(j * m + i) } else { *x.add(i * r + o) } as f32;
        }
        for i in 0..n {
            *vt.add(j * n + i) = if m >= n { *x.add(i * r + o) } else { *rows.add(j * n + i) } as f32;
        }
    }
    fix_signs(u, vt, m, n, r);
}
