//! f64 GEMM, C = [C +] op(A)·B with op(A)(i, p) = a[i·ars + p·acs] and B row-major, as gemm.rs but
//! in f64: blocked KB×NB over B, register tile 4 rows × 4 columns (two f64x2 per row, mul + add),
//! 2-column and scalar tails. `upper` computes only the tiles on or right of the diagonal and
//! mirrors them: a Gram matrix FᵀF for half the work. Used where f32 products would lose the
//! orthogonality of small singular directions (svd_gram.rs). The TS reference is gemm64 in
//! src/linalg/matmul.ts (plain loops).
use core::arch::wasm32::*;

const KB: usize = 128;
const NB: usize = 128;

/// C (m×n, row stride ldc) = [C +] op(A) (m×k) · B (k×n, row stride ldb); with `upper` (m = n,
/// C symmetric by construction) only j ≥ i is computed, then copied below the diagonal.
pub unsafe fn gemm64(
    m: usize, n: usize, k: usize, a: *const f64, ars: usize, acs: usize, b: *const f64, ldb: usize,
    c: *mut f64, ldc: usize, accumulate: bool, upper: bool,
) {
    if !accumulate {
        for i in 0..m {
            core::ptr::write_bytes(c.add(i * ldc), 0, n);
        }
    }
    let mut j0 = 0;
    while j0 < n {
        let nb = if n - j0 < NB { n - j0 } else { NB };
        let mut p0 = 0;
        while p0 < k {
            let kb = if k - p0 < KB { k - p0 } else { KB };
            let mut i = 0;
            while i < m {
                let rows = if i + 4 <= m { 4 } else { 1 };
                // first column of this row group's work inside [j0, j0 + nb)
                let js = if upper && i > j0 { i - j0 } else { 0 };
                if js < nb {
                    let (ap, bp, cp) = (a.add(i * ars + p0 * acs), b.add(p0 * ldb + j0 + js), c.add(i * ldc + j0 + js));
                    if rows == 4 {
                        tile4(kb, nb - js, ap, ars, acs, bp, ldb, cp, ldc);
                    } else {
                        tile1(kb, nb - js, ap, acs, bp, ldb, cp);
                    }
                }
                i += rows;
            }
            p0 += kb;
        }
        j0 += nb;
    }
    if upper {
        for i in 0..m {
            for j in 0..i {
                *c.add(i * ldc + j) = *c.add(j * ldc + i);
            }
        }
    }
}

#[inline(always)]
unsafe fn ld(p: *const f64) -> v128 {
    v128_load(p as *const v128)
}

#[inline(always)]
unsafe fn st(p: *mut f64, v: v128) {
    v128_store(p as *mut v128, v)
}

#[inline(always)]
fn madd(acc: v128, x: v128, y: v128) -> v128 {
    f64x2_add(acc, f64x2_mul(x, y))
}

/// Four rows of C, columns [0, nb), depth kb.
#[inline(always)]
unsafe fn tile4(
    kb: usize, nb: usize, a: *const f64, ars: usize, acs: usize, b: *const f64, ldb: usize, c: *mut f64,
    ldc: usize,
) {
    let (a0, a1, a2, a3) = (a, a.add(ars), a.add(2 * ars), a.add(3 * ars));
    let (c0, c1, c2, c3) = (c, c.add(ldc), c.add(2 * ldc), c.add(3 * ldc));
    let mut j = 0;
    while j + 4 <= nb {
        let (mut x00, mut x01, mut x10, mut x11) = (ld(c0.add(j)), ld(c0.add(j + 2)), ld(c1.add(j)), ld(c1.add(j + 2)));
        let (mut x20, mut x21, mut x30, mut x31) = (ld(c2.add(j)), ld(c2.add(j + 2)), ld(c3.add(j)), ld(c3.add(j + 2)));
        let mut bp = b.add(j);
        let mut off = 0;
        for _ in 0..kb {
            let (b0, b1) = (ld(bp), ld(bp.add(2)));
            let s0 = f64x2_splat(*a0.add(off));
            x00 = madd(x00, s0, b0);
            x01 = madd(x01, s0, b1);
            let s1 = f64x2_splat(*a1.add(off));
            x10 = madd(x10, s1, b0);
            x11 = madd(x11, s1, b1);
            let s2 = f64x2_splat(*a2.add(off));
            x20 = madd(x20, s2, b0);
            x21 = madd(x21, s2, b1);
            let s3 = f64x2_splat(*a3.add(off));
            x30 = madd(x30, s3, b0);
            x31 = madd(x31, s3, b1);
            bp = bp.add(ldb);
            off += acs;
        }
        st(c0.add(j), x00);
        st(c0.add(j + 2), x01);
        st(c1.add(j), x10);
        st(c1.add(j + 2), x11);
        st(c2.add(j), x20);
        st(c2.add(j + 2), x21);
        st(c3.add(j), x30);
        st(c3.add(j + 2), x31);
        j += 4;
    }
    while j < nb {
        let (mut y0, mut y1, mut y2, mut y3) = (*c0.add(j), *c1.add(j), *c2.add(j), *c3.add(j));
        let mut bp = b.add(j);
        let mut off = 0;
        for _ in 0..kb {
            let bv = *bp;
            y0 += *a0.add(off) * bv;
            y1 += *a1.add(off) * bv;
            y2 += *a2.add(off) * bv;
            y3 += *a3.add(off) * bv;
            bp = bp.add(ldb);
            off += acs;
        }
        *c0.add(j) = y0;
        *c1.add(j) = y1;
        *c2.add(j) = y2;
        *c3.add(j) = y3;
        j += 1;
    }
}

/// One row of C, columns [0, nb), depth kb.
#[inline(always)]
unsafe fn tile1(kb: usize, nb: usize, a: *const f64, acs: usize, b: *const f64, ldb: usize, c: *mut f64) {
    let mut j = 0;
    while j + 4 <= nb {
        let (mut x0, mut x1) = (ld(c.add(j)), ld(c.add(j + 2)));
        let mut bp = b.add(j);
        for p in 0..kb {
            let s = f64x2_splat(*a.add(p * acs));
            x0 = madd(x0, s, ld(bp));
            x1 = madd(x1, s, ld(bp.add(2)));
            bp = bp.add(ldb);
        }
        st(c.add(j), x0);
        st(c.add(j + 2), x1);
        j += 4;
    }
    while j < nb {
        let mut y = *c.add(j);
        for p in 0..kb {
            y += *a.add(p * acs) * *b.add(p * ldb + j);
        }
        *c.add(j) = y;
        j += 1;
    }
}
