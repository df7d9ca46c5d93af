//! Thin QR by classical Gram-Schmidt with one re-orthogonalization pass (CGS2, "twice is
//! enough", Giraud et al. 2005), in f64 on contiguous rows (row j = column j of the input); each
//! pass is c = Q_{<j} v then v −= Q_{<j}ᵀ c, blocked over 4 rows of Q. A column whose
//! norm falls below 1e-10 of its original norm (rank deficiency) is replaced by uniform noise from
//! the seeded stream and orthogonalized, so Q always has orthonormal columns; its R diagonal keeps
//! the tiny residual norm. Mirrors src/linalg/qr.ts `orthRows`. svdTopR's power iterations use the
//! faster f32 block variant in qr_block.rs.
use crate::math::{dot64, sqrt64, stream_state, uniform_pm1};
use core::arch::wasm32::*;
use crate::scratch;

const DEFICIENT: f64 = 1e-10;

/// Orthonormalize the k rows of w (k×m, f64) in place; r (k×k, upper) gets the coefficients if
/// non-null. Requires k ≤ m.
pub unsafe fn orth_rows(w: *mut f64, m: usize, k: usize, r: *mut f64, seed: u32, stream: u32) {
    orth_rows_from(w, m, k, 0, r, seed, stream)
}

/// `orth_rows` for rows start..k only: rows before `start` are taken as orthonormal already.
pub unsafe fn orth_rows_from(w: *mut f64, m: usize, k: usize, start: usize, r: *mut f64, seed: u32, stream: u32) {
    if !r.is_null() {
        core::ptr::write_bytes(r, 0, k * k);
    }
    let mut state = stream_state(seed, stream);
    let c = scratch::<f64>(k);
    for j in start..k {
        let v = w.add(j * m);
        let norm0 = sqrt64(dot64(v, v, m));
        for _ in 0..2 {
            project(w, m, j, v, c);
            if !r.is_null() {
                for i in 0..j {
                    *r.add(i * k + j) += *c.add(i);
                }
            }
        }
        let mut nrm = sqrt64(dot64(v, v, m));
        if !r.is_null() {
            *r.add(j * k + j) = nrm;
        }
        let mut deficient = !(nrm > DEFICIENT * norm0);
        let mut tries = 0;
        while deficient && tries < 4 {
            for t in 0..m {
                *v.add(t) = uniform_pm1(&mut state) as f64;
            }
            let fresh = sqrt64(dot64(v, v, m));
            project(w, m, j, v, c);
            project(w, m, j, v, c);
            nrm = sqrt64(dot64(v, v, m));
            deficient = !(nrm > DEFICIENT * fresh);
            if deficient {
                nrm = 0.0;
            }
            tries += 1;
        }
        let inv = if nrm > 0.0 { 1.0 / nrm } else { 0.0 };
        for t in 0..m {
            *v.add(t) *= inv;
        }
    }
}

/// c[i] = q_i·v (i < j), then v −= Σ c[i] q_i; rows q_i of w (length m).
unsafe fn project(w: *const f64, m: usize, j: usize, v: *mut f64, c: *mut f64) {
    let mut i = 0;
    while i + 4 <= j {
        let q = [w.add(i * m), w.add((i + 1) * m), w.add((i + 2) * m), w.add((i + 3) * m)];
        let mut acc = [f64x2_splat(0.0); 4];
        let mut t = 0;
        while t + 2 <= m {
            let vv = v128_load(v.add(t) as *const v128);
            for r in 0..4 {
                acc[r] = f64x2_add(acc[r], f64x2_mul(v128_load(q[r].add(t) as *const v128), vv));
            }
            t += 2;
        }
        for r in 0..4 {
            let mut s = f64x2_extract_lane::<0>(acc[r]) + f64x2_extract_lane::<1>(acc[r]);
            if t < m {
                s += *q[r].add(t) * *v.add(t);
            }
            *c.add(i + r) = s;
        }
        i += 4;
    }
    while i < j {
        *c.add(i) = dot64(w.add(i * m), v, m);
        i += 1;
    }
    i = 0;
    while i + 4 <= j {
        let q = [w.add(i * m), w.add((i + 1) * m), w.add((i + 2) * m), w.add((i + 3) * m)];
        let cs = [*c.add(i), *c.add(i + 1), *c.add(i + 2), *c.add(i + 3)];
        let cv = [f64x2_splat(cs[0]), f64x2_splat(cs[1]), f64x2_splat(cs[2]), f64x2_splat(cs[3])];
        let mut t = 0;
        while t + 2 <= m {
            let p = v.add(t) as *mut v128;
            let mut x = v128_load(p);
            for r in 0..4 {
                x = f64x2_sub(x, f64x2_mul(cv[r], v128_load(q[r].add(t) as *const v128)));
            }
            v128_store(p, x);
            t += 2;
        }
        if t < m {
            for r in 0..4 {
                *v.add(t) -= cs[r] * *q[r].add(t);
            }
        }
        i += 4;
    }
    while i < j {
        let (ci, qi) = (*c.add(i), w.add(i * m));
        for t in 0..m {
            *v.add(t) -= ci * *qi.add(t);
        }
        i += 1;
    }
}

/// rows (k×m f64) ← transpose of a (m×k f32).
pub unsafe fn to_rows(a: *const f32, m: usize, k: usize, rows: *mut f64) {
    for i in 0..m {
        for j in 0..k {
            *rows.add(j * m + i) = *a.add(i * k + j) as f64;
        }
    }
}

/// a (m×k f32) ← transpose of rows (k×m f64).
pub unsafe fn from_rows(rows: *const f64, m: usize, k: usize, a: *mut f32) {
    for i in 0..m {
        for j in 0..k {
            *a.add(i * k + j) = *rows.add(j * m + i) as f32;
        }
    }
}

/// Standalone QR: q (m×k), r (k×k) from a (m×k); fills use stream 1 of `seed`.
pub unsafe fn qr_f32(a: *const f32, m: usize, k: usize, seed: u32, q: *mut f32, r: *mut f32) {
    let work = scratch::<f64>(m * k);
    let r64 = scratch::<f64>(k * k);
    to_rows(a, m, k, work);
    orth_rows(work, m, k, r64, seed, 1);
    from_rows(work, m, k, q);
    for i in 0..k * k {
        *r.add(i) = *r64.add(i) as f32;
    }
}
