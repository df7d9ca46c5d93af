//! f32 GEMM, C = [C +] op(A)·B with op(A)(i, p) = a[i·ars + p·acs] (so NN and TN share one
//! kernel) and B row-major. Blocked KB×NB over B (fits L2), register tile 4 rows × 8 columns of
//! f32x4 accumulators; 4-column and scalar tails. No FMA in baseline SIMD128: mul + add.
use core::arch::wasm32::*;

const KB: usize = 128;
const NB: usize = 256;

/// C (m×n, row stride ldc) = [C +] op(A) (m×k) · B (k×n, row stride ldb).
pub unsafe fn gemm(
    m: usize, n: usize, k: usize, a: *const f32, ars: usize, acs: usize, b: *const f32, ldb: usize,
    c: *mut f32, ldc: usize, accumulate: bool,
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
            let bb = b.add(p0 * ldb + j0);
            let mut i = 0;
            while i + 4 <= m {
                tile4(kb, nb, a.add(i * ars + p0 * acs), ars, acs, bb, ldb, c.add(i * ldc + j0), ldc);
                i += 4;
            }
            while i < m {
                tile1(kb, nb, a.add(i * ars + p0 * acs), acs, bb, ldb, c.add(i * ldc + j0));
                i += 1;
            }
            p0 += kb;
        }
        j0 += nb;
    }
}

#[inline(always)]
unsafe fn ld(p: *const f32) -> v128 {
    v128_load(p as *const v128)
}

#[inline(always)]
unsafe fn st(p: *mut f32, v: v128) {
    v128_store(p as *mut v128, v)
}

#[inline(always)]
fn madd(acc: v128, x: v128, y: v128) -> v128 {
    f32x4_add(acc, f32x4_mul(x, y))
}

/// Four rows of C, columns [0, nb), depth kb.
#[inline(always)]
unsafe fn tile4(
    kb: usize, nb: usize, a: *const f32, ars: usize, acs: usize, b: *const f32, ldb: usize, c: *mut f32,
    ldc: usize,
) {
    let (a0, a1, a2, a3) = (a, a.add(ars), a.add(2 * ars), a.add(3 * ars));
    let (c0, c1, c2, c3) = (c, c.add(ldc), c.add(2 * ldc), c.add(3 * ldc));
    let mut j = 0;
    while j + 8 <= nb {
        let (mut x00, mut x01, mut x10, mut x11) = (ld(c0.add(j)), ld(c0.add(j + 4)), ld(c1.add(j)), ld(c1.add(j + 4)));
        let (mut x20, mut x21, mut x30, mut x31) = (ld(c2.add(j)), ld(c2.add(j + 4)), ld(c3.add(j)), ld(c3.add(j + 4)));
        let mut bp = b.add(j);
        let mut off = 0;
        for _ in 0..kb {
            let (b0, b1) = (ld(bp), ld(bp.add(4)));
            let s0 = f32x4_splat(*a0.add(off));
            x00 = madd(x00, s0, b0);
            x01 = madd(x01, s0, b1);
            let s1 = f32x4_splat(*a1.add(off));
            x10 = madd(x10, s1, b0);
            x11 = madd(x11, s1, b1);
            let s2 = f32x4_splat(*a2.add(off));
            x20 = madd(x20, s2, b0);
            x21 = madd(x21, s2, b1);
            let s3 = f32x4_splat(*a3.add(off));
            x30 = madd(x30, s3, b0);
            x31 = madd(x31, s3, b1);
            bp = bp.add(ldb);
            off += acs;
        }
        st(c0.add(j), x00);
        st(c0.add(j + 4), x01);
        st(c1.add(j), x10);
        st(c1.add(j + 4), x11);
        st(c2.add(j), x20);
        st(c2.add(j + 4), x21);
        st(c3.add(j), x30);
        st(c3.add(j + 4), x31);
        j += 8;
    }
    while j + 4 <= nb {
        let (mut x0, mut x1, mut x2, mut x3) = (ld(c0.add(j)), ld(c1.add(j)), ld(c2.add(j)), ld(c3.add(j)));
        let mut bp = b.add(j);
        let mut off = 0;
        for _ in 0..kb {
            let b0 = ld(bp);
            x0 = madd(x0, f32x4_splat(*a0.add(off)), b0);
            x1 = madd(x1, f32x4_splat(*a1.add(off)), b0);
            x2 = madd(x2, f32x4_splat(*a2.add(off)), b0);
            x3 = madd(x3, f32x4_splat(*a3.add(off)), b0);
            bp = bp.add(ldb);
            off += acs;
        }
        st(c0.add(j), x0);
        st(c1.add(j), x1);
        st(c2.add(j), x2);
        st(c3.add(j), x3);
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
unsafe fn tile1(kb: usize, nb: usize, a: *const f32, acs: usize, b: *const f32, ldb: usize, c: *mut f32) {
    let mut j = 0;
    while j + 8 <= nb {
        let (mut x0, mut x1) = (ld(c.add(j)), ld(c.add(j + 4)));
        let mut bp = b.add(j);
        for p in 0..kb {
            let s = f32x4_splat(*a.add(p * acs));
            x0 = madd(x0, s, ld(bp));
            x1 = madd(x1, s, ld(bp.add(4)));
            bp = bp.add(ldb);
        }
        st(c.add(j), x0);
        st(c.add(j + 4), x1);
        j += 8;
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
