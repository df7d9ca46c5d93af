//! Top-r eigenpairs of a symmetric matrix, f64: LAPACK's dsytrd → dsterf → dstein → dormtr route
//! (Golub & Van Loan, Matrix Computations, §8.3). Householder tridiagonalization on the lower
//! triangle (⅔n³ multiply-adds, one fused pass per row for the symmetric product and one for the
//! rank-2 update; reflector k kept in row k's upper part), every eigenvalue by implicit QL without
//! vectors (tql1 on T/‖T‖₁, O(n²)), eigenvectors of T for the r largest by inverse iteration
//! (inverse_iteration.rs), then the reflectors applied 16 at a time in compact WY form (dlarft), so
//! the n²r back-transformation runs in the f64 GEMM. ≈ 4/3 n³ + 2n²r flops against eighSym's
//! ≈ 9n³: svdTopR's small SVDs need most but not all eigenvectors. Mirrors src/linalg/eigh_top.ts
//! (which applies the reflectors one by one: the same product).
use crate::gemm64::gemm64;
use crate::inverse_iteration::inverse_iteration;
use crate::math::{abs64, axpy64, dot64, hypot, sqrt64};
use core::arch::wasm32::*;
use crate::scratch;

const EPS: f64 = f64::EPSILON;

/// f32 entry point: top-r eigenpairs of sym(a) (n×n); vectors (n×r, column j) with their
/// largest-magnitude entry positive; starts from stream 1 of `seed`. 0, or 1 if QL failed.
pub unsafe fn eigh_top_r(a: *const f32, n: usize, r: usize, seed: u32, values: *mut f32, vectors: *mut f32) -> i32 {
    let w = scratch::<f64>(n * n);
    for i in 0..n {
        for j in 0..=i {
            *w.add(i * n + j) = 0.5 * (*a.add(i * n + j) as f64 + *a.add(j * n + i) as f64);
        }
    }
    let (vals, z) = (scratch::<f64>(r), scratch::<f64>(n * r));
    let ok = eigh_top(w, n, r, seed, 1, vals, z);
    for j in 0..r {
        *values.add(j) = *vals.add(j) as f32;
        let (mut best, mut at) = (-1.0f64, 0);
        for i in 0..n {
            if abs64(*z.add(i * r + j)) > best {
                best = abs64(*z.add(i * r + j));
                at = i;
            }
        }
        let sign = if *z.add(at * r + j) < 0.0 { -1.0 } else { 1.0 };
        for i in 0..n {
            *vectors.add(i * r + j) = (sign * *z.add(i * r + j)) as f32;
        }
    }
    if ok {
        0
    } else {
        1
    }
}

/// Top-r eigenvalues (descending) into `values` and eigenvectors into `z` (n×r, column j) of the
/// symmetric `a` (n×n, lower triangle read, overwritten); false if QL did not converge.
pub unsafe fn eigh_top(a: *mut f64, n: usize, r: usize, seed: u32, stream: u32, values: *mut f64, z: *mut f64) -> bool {
    let (d, e, tau) = (scratch::<f64>(n), scratch::<f64>(n), scratch::<f64>(n));
    tridiagonalize(a, n, d, e, tau);
    // T / ‖T‖₁ for QL, so that its plain sqrt(p² + e²) cannot overflow
    let norm = norm1(d, e, n);
    let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
    let (w, ew) = (scratch::<f64>(n), scratch::<f64>(n));
    for i in 0..n {
        *w.add(i) = *d.add(i) * scale;
        *ew.add(i) = *e.add(i) * scale;
    }
    let ok = tql1(w, ew, n);
    let ws = core::slice::from_raw_parts_mut(w, n);
    ws.sort_unstable_by(|x, y| y.partial_cmp(x).unwrap_or(core::cmp::Ordering::Equal));
    for j in 0..r {
        *values.add(j) = *w.add(j) * norm;
    }
    inverse_iteration(d, e, n, norm, values, r, seed, stream, z);
    back_transform(a, tau, n, z, r);
    ok
}

/// Householder reduction of the lower triangle to (d, e, τ); v_k = [1, a[k, k+2..n]].
unsafe fn tridiagonalize(a: *mut f64, n: usize, d: *mut f64, e: *mut f64, tau: *mut f64) {
    let (p, v) = (scratch::<f64>(n), scratch::<f64>(n));
    core::ptr::write_bytes(e, 0, n);
    core::ptr::write_bytes(tau, 0, n);
    let mut k = 0;
    while k + 2 < n {
        let (o, l) = (k + 1, n - k - 1);
        *d.add(k) = *a.add(k * n + k);
        for i in 0..l {
            *v.add(i) = *a.add((o + i) * n + k);
        }
        let alpha = *v;
        let xn = sqrt64(dot64(v.add(1), v.add(1), l - 1));
        if xn == 0.0 {
            *e.add(k) = alpha; // H_k = I: τ = 0, v = e₁
            core::ptr::write_bytes(a.add(k * n + o + 1), 0, l - 1);
            k += 1;
            continue;
        }
        let beta = if alpha >= 0.0 { -hypot(alpha, xn) } else { hypot(alpha, xn) };
        let t = (beta - alpha) / beta;
        let scale = 1.0 / (alpha - beta);
        *e.add(k) = beta;
        *tau.add(k) = t;
        *v = 1.0;
        for i in 1..l {
            *v.add(i) *= scale;
            *a.add(k * n + o + i) = *v.add(i);
        }
        // p = τ A₂₂ v from the lower triangle: row i gives its dot with v and its transpose's axpy
        core::ptr::write_bytes(p, 0, l);
        for i in 0..l {
            let row = a.add((o + i) * n + o);
            *p.add(i) += symv_row(row, v, p, i) + *row.add(i) * *v.add(i);
        }
        let mut pv = 0.0;
        for i in 0..l {
            *p.add(i) *= t;
            pv += *p.add(i) * *v.add(i);
        }
        axpy64(-0.5 * t * pv, v, p, l); // p is now w
        for i in 0..l {
            syr2_row(a.add((o + i) * n + o), v, p, *v.add(i), *p.add(i), i + 1);
        }
        k += 1;
    }
    if n >= 2 {
        *d.add(n - 2) = *a.add((n - 2) * n + n - 2);
        *e.add(n - 2) = *a.add((n - 1) * n + n - 2);
    }
    *d.add(n - 1) = *a.add((n - 1) * n + n - 1);
}

/// Σ_{j<i} row[j]·v[j], and p[j] += row[j]·v[i] for j < i, in one pass.
#[inline(always)]
unsafe fn symv_row(row: *const f64, v: *const f64, p: *mut f64, i: usize) -> f64 {
    let vi = f64x2_splat(*v.add(i));
    let mut acc = f64x2_splat(0.0);
    let mut j = 0;
    while j + 2 <= i {
        let x = v128_load(row.add(j) as *const v128);
        acc = f64x2_add(acc, f64x2_mul(x, v128_load(v.add(j) as *const v128)));
        let pp = p.add(j) as *mut v128;
        v128_store(pp, f64x2_add(v128_load(pp), f64x2_mul(x, vi)));
        j += 2;
    }
    let mut s = f64x2_extract_lane::<0>(acc) + f64x2_extract_lane::<1>(acc);
    if j < i {
        s += *row.add(j) * *v.add(j);
        *p.add(j) += *row.add(j) * *v.add(i);
    }
    s
}

/// row[j] −= vi·w[j] + wi·v[j] for j < len.
#[inline(always)]
unsafe fn syr2_row(row: *mut f64, v: *const f64, w: *const f64, vi: f64, wi: f64, len: usize) {
    let (vv, wv) = (f64x2_splat(vi), f64x2_splat(wi));
    let mut j = 0;
    while j + 2 <= len {
        let rp = row.add(j) as *mut v128;
        let upd = f64x2_add(
            f64x2_mul(vv, v128_load(w.add(j) as *const v128)),
            f64x2_mul(wv, v128_load(v.add(j) as *const v128)),
        );
        v128_store(rp, f64x2_sub(v128_load(rp), upd));
        j += 2;
    }
    if j < len {
        *row.add(j) -= vi * *w.add(j) + wi * *v.add(j);
    }
}

/// ‖T‖₁ of the symmetric tridiagonal (d, e).
unsafe fn norm1(d: *const f64, e: *const f64, n: usize) -> f64 {
    let mut norm = 0.0f64;
    for i in 0..n {
        let mut s = abs64(*d.add(i)) + abs64(*e.add(i));
        if i > 0 {
            s += abs64(*e.add(i - 1));
        }
        if s > norm {
            norm = s;
        }
    }
    norm
}

/// Eigenvalues of the tridiagonal (d, e[i] = T[i+1, i]), scaled to ‖T‖₁ ≤ 1, in place in d by
/// implicit QL (tql1).
unsafe fn tql1(d: *mut f64, e: *mut f64, n: usize) -> bool {
    let (mut f, mut tst1, mut ok) = (0.0f64, 0.0f64, true);
    *e.add(n - 1) = 0.0;
    for l in 0..n {
        let t = abs64(*d.add(l)) + abs64(*e.add(l));
        if t > tst1 {
            tst1 = t;
        }
        let mut m = l;
        while m < n - 1 && !(abs64(*e.add(m)) <= EPS * tst1) {
            m += 1;
        }
        if m > l {
            let mut iter = 0;
            loop {
                iter += 1;
                let mut g = *d.add(l);
                let mut p = (*d.add(l + 1) - g) / (2.0 * *e.add(l));
                let mut r = sqrt64(p * p + 1.0);
                if p < 0.0 {
                    r = -r;
                }
                *d.add(l) = *e.add(l) / (p + r);
                *d.add(l + 1) = *e.add(l) * (p + r);
                let dl1 = *d.add(l + 1);
                let mut h = g - *d.add(l);
                for i in l + 2..n {
                    *d.add(i) -= h;
                }
                f += h;
                p = *d.add(m);
                let (mut c, mut c2, mut c3) = (1.0f64, 1.0f64, 1.0f64);
                let (mut s, mut s2) = (0.0f64, 0.0f64);
                let el1 = *e.add(l + 1);
                let mut i = m;
                while i > l {
                    i -= 1;
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * *e.add(i);
                    h = c * p;
                    r = sqrt64(p * p + *e.add(i) * *e.add(i));
                    *e.add(i + 1) = s * r;
                    let inv = 1.0 / r;
                    s = *e.add(i) * inv;
                    c = p * inv;
                    p = c * *d.add(i) - s * g;
                    *d.add(i + 1) = h + s * (c * g + s * *d.add(i));
                }
                p = -s * s2 * c3 * el1 * *e.add(l) / dl1;
                *e.add(l) = s * p;
                *d.add(l) = c * p;
                if !(abs64(*e.add(l)) > EPS * tst1) {
                    break;
                }
                if iter >= 64 {
                    ok = false;
                    break;
                }
            }
        }
        *d.add(l) += f;
        *e.add(l) = 0.0;
    }
    ok
}

/// z (n×r) ← H₀H₁⋯ z with the reflectors left in `a` by `tridiagonalize`, NB at a time as
/// I − V T Vᵀ (compact WY, LAPACK dlarft forward/columnwise) so both products are f64 GEMMs.
unsafe fn back_transform(a: *const f64, tau: *const f64, n: usize, z: *mut f64, r: usize) {
    const NB: usize = 16;
    let count = n.saturating_sub(2); // reflectors 0..n−2 (the last ones may be identities)
    let (vt, t, w) = (scratch::<f64>(NB * n), scratch::<f64>(NB * NB), scratch::<f64>(NB * r));
    let mut k1 = count;
    while k1 > 0 {
        let k0 = if k1 > NB { k1 - NB } else { 0 };
        let (nb, rows) = (k1 - k0, n - k0 - 1);
        // Vᵀ (nb × rows over z's rows k0+1..n): row j = [0…0, 1, a[k0+j, k0+j+2..n]]
        core::ptr::write_bytes(vt, 0, nb * rows);
        for j in 0..nb {
            let k = k0 + j;
            *vt.add(j * rows + j) = 1.0;
            for c in j + 1..rows {
                *vt.add(j * rows + c) = *a.add(k * n + k0 + 1 + c);
            }
        }
        // T upper: T[i][i] = τ_i, T[..i][i] = −τ_i T[..i][..i] (V[:, ..i]ᵀ v_i)
        core::ptr::write_bytes(t, 0, NB * NB);
        for i in 0..nb {
            let ti = *tau.add(k0 + i);
            *t.add(i * NB + i) = ti;
            if ti == 0.0 {
                continue;
            }
            for j in 0..i {
                *w.add(j) = dot64(vt.add(j * rows + i), vt.add(i * rows + i), rows - i);
            }
            for j in 0..i {
                let mut s = 0.0;
                for c in j..i {
                    s += *t.add(j * NB + c) * *w.add(c);
                }
                *t.add(j * NB + i) = -ti * s;
            }
        }
        // W = Vᵀ Z', W ← T W, Z' −= V W
        let zb = z.add((k0 + 1) * r);
        gemm64(nb, r, rows, vt, rows, 1, zb, r, w, r, false, false);
        for i in 0..nb {
            let wi = w.add(i * r);
            for c in 0..r {
                *wi.add(c) *= -*t.add(i * NB + i);
            }
            for j in i + 1..nb {
                axpy64(-*t.add(i * NB + j), w.add(j * r), wi, r);
            }
        }
        gemm64(rows, r, nb, vt, 1, rows, w, r, zb, r, true, false);
        k1 = k0;
    }
}
