//! Lean f32 GEMM: C = alpha·op(A)·op(B) [+ C] [+ bias], op(X)(i, p) = x[i·rs + p·cs], so every
//! transpose combination is one code path. Goto/BLIS blocking: a KC×NC block of op(B) is packed
//! into NR-column micro-panels and an MC×KC block of op(A) into MR-row micro-panels (both
//! zero-padded to whole panels) in the caller's scratch; the MR×NR = 4×8 micro-kernel then streams
//! both panels contiguously with 8 f32x4 accumulators (mul + add: baseline SIMD128 has no FMA).
//! Scratch: `scratch_floats(m, n, k)` f32, chosen by the caller (the lean backend never allocates).
use crate::lean_math::hsum;
use core::arch::wasm32::*;

pub const MR: usize = 4;
pub const NR: usize = 8;
const KC: usize = 256;
const MC: usize = 128;
const NC: usize = 512;

/// A strided matrix view: element (i, j) at `p[i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub struct View {
    pub p: *const f32,
    pub rs: usize,
    pub cs: usize,
}

impl View {
    #[inline(always)]
    unsafe fn at(&self, i: usize, j: usize) -> *const f32 {
        self.p.add(i * self.rs + j * self.cs)
    }
}

#[inline(always)]
fn min(a: usize, b: usize) -> usize {
    if a < b { a } else { b }
}

#[inline(always)]
fn round_up(x: usize, to: usize) -> usize {
    (x + to - 1) / to * to
}

/// Scratch f32 needed by `gemm` for an m×n×k product.
pub fn scratch_floats(m: usize, n: usize, k: usize) -> usize {
    if m == 0 || n == 0 || k == 0 {
        return 0;
    }
    min(k, KC) * (min(round_up(n, NR), NC) + min(round_up(m, MR), MC))
}

/// C (m×n, row stride ldc) = alpha·op(A)·op(B) [+ C when `beta`] [+ bias (n) when non-null].
pub unsafe fn gemm(
    m: usize, n: usize, k: usize, a: View, b: View, c: *mut f32, ldc: usize, alpha: f32, beta: bool,
    bias: *const f32, scratch: *mut f32,
) {
    if m <= MR && k > 0 {
        let done = match m {
            1 => small::<1>(n, k, a, b, c, ldc, alpha, beta, bias),
            2 => small::<2>(n, k, a, b, c, ldc, alpha, beta, bias),
            3 => small::<3>(n, k, a, b, c, ldc, alpha, beta, bias),
            _ => small::<4>(n, k, a, b, c, ldc, alpha, beta, bias),
        };
        if done {
            return;
        }
    }
    let pack = |kc, nc, p0, j0, dst| pack_b(kc, nc, b, p0, j0, dst);
    gemm_with(m, n, k, a, &pack, c, ldc, alpha, beta, bias, scratch)
}

/// M ≤ 4 rows (decoding, tiny batches) without packing, streaming B once in storage order:
/// row-major B by row updates of C, transposed B by dot products (needs A rows contiguous).
/// Returns false for layouts it does not handle.
unsafe fn small<const M: usize>(
    n: usize, k: usize, a: View, b: View, c: *mut f32, ldc: usize, alpha: f32, beta: bool, bias: *const f32,
) -> bool {
    if b.cs == 1 {
        // C_i = [C_i] [+ bias], then C_i += alpha·A(i, p)·B[p, :] row by row: B streamed once, in order
        for i in 0..M {
            let ci = c.add(i * ldc);
            for j in 0..n {
                let base = if beta { *ci.add(j) } else { 0.0 };
                *ci.add(j) = if bias.is_null() { base } else { base + *bias.add(j) };
            }
        }
        for p in 0..k {
            let bp = b.at(p, 0);
            let mut s = [f32x4_splat(0.0); M];
            for i in 0..M {
                s[i] = f32x4_splat(alpha * *a.at(i, p));
            }
            let mut j = 0;
            while j + 8 <= n {
                let (b0, b1) = (v128_load(bp.add(j) as *const v128), v128_load(bp.add(j + 4) as *const v128));
                for i in 0..M {
                    let ci = c.add(i * ldc + j);
                    v128_store(ci as *mut v128, f32x4_add(v128_load(ci as *const v128), f32x4_mul(s[i], b0)));
                    let ci4 = ci.add(4);
                    v128_store(ci4 as *mut v128, f32x4_add(v128_load(ci4 as *const v128), f32x4_mul(s[i], b1)));
                }
                j += 8;
            }
            for jj in j..n {
                for i in 0..M {
                    *c.add(i * ldc + jj) += alpha * *a.at(i, p) * *bp.add(jj);
                }
            }
        }
        return true;
    }
    if b.rs == 1 && a.cs == 1 {
        for j in 0..n {
            let bj = b.at(0, j);
            let mut acc = [f32x4_splat(0.0); M];
            let mut p = 0;
            while p + 4 <= k {
                let bv = v128_load(bj.add(p) as *const v128);
                for i in 0..M {
                    acc[i] = f32x4_add(acc[i], f32x4_mul(v128_load(a.at(i, p) as *const v128), bv));
                }
                p += 4;
            }
            for i in 0..M {
                let mut s = hsum(acc[i]);
                for t in p..k {
                    s += *a.at(i, t) * *bj.add(t);
                }
                store_row(c.add(i * ldc + j), 1, Some(&s as *const f32), alpha, beta, offset(bias, j));
            }
        }
        return true;
    }
    false
}

/// `gemm` with op(B) supplied by a packer: `pack(kc, nc, p0, j0, dst)` writes op(B)[p0.., j0..]
/// (kc×nc) as NR-column panels (panel s holds row p at s·kc·NR + p·NR), zero-padded.
pub unsafe fn gemm_with(
    m: usize, n: usize, k: usize, a: View, pack: &impl Fn(usize, usize, usize, usize, *mut f32), c: *mut f32,
    ldc: usize, alpha: f32, beta: bool, bias: *const f32, scratch: *mut f32,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for i in 0..m {
            store_row(c.add(i * ldc), n, None, 0.0, beta, bias);
        }
        return;
    }
    let kcap = min(k, KC);
    let bpack = scratch;
    let apack = scratch.add(kcap * min(round_up(n, NR), NC));
    let mut j0 = 0;
    while j0 < n {
        let nc = min(n - j0, NC);
        let mut p0 = 0;
        while p0 < k {
            let kc = min(k - p0, KC);
            pack(kc, nc, p0, j0, bpack);
            // the first depth block applies beta and bias; later ones accumulate
            let (first_beta, first_bias) = if p0 == 0 { (beta, bias) } else { (true, core::ptr::null()) };
            let mut i0 = 0;
            while i0 < m {
                let mc = min(m - i0, MC);
                pack_a(mc, kc, a, i0, p0, apack);
                let c0 = c.add(i0 * ldc + j0);
                block(mc, nc, kc, apack, MR * kc, bpack, NR * kc, c0, ldc, alpha, first_beta, offset(first_bias, j0));
                i0 += mc;
            }
            p0 += kc;
        }
        j0 += nc;
    }
}

#[inline(always)]
unsafe fn offset(p: *const f32, by: usize) -> *const f32 {
    if p.is_null() { p } else { p.add(by) }
}

/// Every MR×NR tile of one packed (mc×kc)·(kc×nc) block: A panel s at apack + s·a_ps, B panel s at
/// bpack + s·b_ps (steps of MR and NR floats per depth within a panel).
pub unsafe fn block(
    mc: usize, nc: usize, kc: usize, apack: *const f32, a_ps: usize, bpack: *const f32, b_ps: usize, c: *mut f32,
    ldc: usize, alpha: f32, beta: bool, bias: *const f32,
) {
    let mut j = 0;
    while j < nc {
        let nr = min(nc - j, NR);
        let bp = bpack.add(j / NR * b_ps);
        let mut i = 0;
        while i < mc {
            let mr = min(mc - i, MR);
            let acc = micro(kc, apack.add(i / MR * a_ps), bp);
            let ct = c.add(i * ldc + j);
            let bt = offset(bias, j);
            if mr == MR && nr == NR {
                for r in 0..MR {
                    store8(ct.add(r * ldc), acc[2 * r], acc[2 * r + 1], alpha, beta, bt);
                }
            } else {
                let mut tile = [0f32; MR * NR];
                for r in 0..MR {
                    v128_store(tile.as_mut_ptr().add(r * NR) as *mut v128, acc[2 * r]);
                    v128_store(tile.as_mut_ptr().add(r * NR + 4) as *mut v128, acc[2 * r + 1]);
                }
                for r in 0..mr {
                    store_row(ct.add(r * ldc), nr, Some(tile.as_ptr().add(r * NR)), alpha, beta, bt);
                }
            }
            i += MR;
        }
        j += NR;
    }
}

/// MR×NR tile of op(A)·op(B) over depth kc from packed panels (A: MR per step, B: NR per step).
#[inline(always)]
pub unsafe fn micro(kc: usize, a: *const f32, b: *const f32) -> [v128; 8] {
    let z = f32x4_splat(0.0);
    let (mut c00, mut c01, mut c10, mut c11) = (z, z, z, z);
    let (mut c20, mut c21, mut c30, mut c31) = (z, z, z, z);
    let (mut ap, mut bp) = (a, b);
    for _ in 0..kc {
        let b0 = v128_load(bp as *const v128);
        let b1 = v128_load(bp.add(4) as *const v128);
        let a0 = v128_load32_splat(ap as *const u32);
        c00 = f32x4_add(c00, f32x4_mul(a0, b0));
        c01 = f32x4_add(c01, f32x4_mul(a0, b1));
        let a1 = v128_load32_splat(ap.add(1) as *const u32);
        c10 = f32x4_add(c10, f32x4_mul(a1, b0));
        c11 = f32x4_add(c11, f32x4_mul(a1, b1));
        let a2 = v128_load32_splat(ap.add(2) as *const u32);
        c20 = f32x4_add(c20, f32x4_mul(a2, b0));
        c21 = f32x4_add(c21, f32x4_mul(a2, b1));
        let a3 = v128_load32_splat(ap.add(3) as *const u32);
        c30 = f32x4_add(c30, f32x4_mul(a3, b0));
        c31 = f32x4_add(c31, f32x4_mul(a3, b1));
        ap = ap.add(MR);
        bp = bp.add(NR);
    }
    [c00, c01, c10, c11, c20, c21, c30, c31]
}

/// c[0..8] = alpha·(x0, x1) [+ c] [+ bias[0..8]].
#[inline(always)]
unsafe fn store8(c: *mut f32, x0: v128, x1: v128, alpha: f32, beta: bool, bias: *const f32) {
    let al = f32x4_splat(alpha);
    let (mut y0, mut y1) = (f32x4_mul(x0, al), f32x4_mul(x1, al));
    if beta {
        y0 = f32x4_add(y0, v128_load(c as *const v128));
        y1 = f32x4_add(y1, v128_load(c.add(4) as *const v128));
    }
    if !bias.is_null() {
        y0 = f32x4_add(y0, v128_load(bias as *const v128));
        y1 = f32x4_add(y1, v128_load(bias.add(4) as *const v128));
    }
    v128_store(c as *mut v128, y0);
    v128_store(c.add(4) as *mut v128, y1);
}

/// c[0..len] = alpha·x [+ c] [+ bias] (x absent: 0).
#[inline(always)]
unsafe fn store_row(c: *mut f32, len: usize, x: Option<*const f32>, alpha: f32, beta: bool, bias: *const f32) {
    for j in 0..len {
        let mut y = match x {
            Some(x) => alpha * *x.add(j),
            None => 0.0,
        };
        if beta {
            y += *c.add(j);
        }
        if !bias.is_null() {
            y += *bias.add(j);
        }
        *c.add(j) = y;
    }
}

/// Pack op(B)[p0.., j0..] (kc×nc) into NR-column panels: panel s holds row p at s·kc·NR + p·NR.
pub unsafe fn pack_b(kc: usize, nc: usize, b: View, p0: usize, j0: usize, dst: *mut f32) {
    let mut j = 0;
    while j < nc {
        let nr = min(nc - j, NR);
        let d = dst.add(j * kc);
        if nr == NR && b.cs == 1 {
            for p in 0..kc {
                let s = b.at(p0 + p, j0 + j);
                v128_store(d.add(p * NR) as *mut v128, v128_load(s as *const v128));
                v128_store(d.add(p * NR + 4) as *mut v128, v128_load(s.add(4) as *const v128));
            }
        } else if nr == NR && b.rs == 1 {
            // B stored transposed: 4 depth steps of 8 stored rows, transposed 4×4 at a time
            let mut p = 0;
            while p + 4 <= kc {
                for half in 0..2 {
                    let r = |q: usize| b.at(p0 + p, j0 + j + 4 * half + q);
                    let mut t = [0f32; 16];
                    transpose4(r(0), r(1), r(2), r(3), t.as_mut_ptr());
                    for q in 0..4 {
                        v128_store(d.add((p + q) * NR + 4 * half) as *mut v128, v128_load(t.as_ptr().add(4 * q) as *const v128));
                    }
                }
                p += 4;
            }
            for pp in p..kc {
                for jj in 0..NR {
                    *d.add(pp * NR + jj) = *b.at(p0 + pp, j0 + j + jj);
                }
            }
        } else {
            // column by column (partial panels, general strides)
            for jj in 0..NR {
                if jj < nr {
                    let s = b.at(p0, j0 + j + jj);
                    for p in 0..kc {
                        *d.add(p * NR + jj) = *s.add(p * b.rs);
                    }
                } else {
                    for p in 0..kc {
                        *d.add(p * NR + jj) = 0.0;
                    }
                }
            }
        }
        j += NR;
    }
}

/// Pack op(A)[i0.., p0..] (mc×kc) into MR-row panels: panel s holds column p at s·kc·MR + p·MR.
pub unsafe fn pack_a(mc: usize, kc: usize, a: View, i0: usize, p0: usize, dst: *mut f32) {
    let mut i = 0;
    while i < mc {
        let mr = min(mc - i, MR);
        let d = dst.add(i * kc);
        if mr == MR && a.rs == 1 {
            // A stored transposed: the MR rows of one column are contiguous
            for p in 0..kc {
                v128_store(d.add(p * MR) as *mut v128, v128_load(a.at(i0 + i, p0 + p) as *const v128));
            }
        } else if mr == MR && a.cs == 1 {
            let rows = [a.at(i0 + i, p0), a.at(i0 + i + 1, p0), a.at(i0 + i + 2, p0), a.at(i0 + i + 3, p0)];
            let mut p = 0;
            while p + 4 <= kc {
                transpose4(rows[0].add(p), rows[1].add(p), rows[2].add(p), rows[3].add(p), d.add(p * MR));
                p += 4;
            }
            while p < kc {
                for r in 0..MR {
                    *d.add(p * MR + r) = *rows[r].add(p);
                }
                p += 1;
            }
        } else {
            for p in 0..kc {
                for r in 0..MR {
                    *d.add(p * MR + r) = if r < mr { *a.at(i0 + i + r, p0 + p) } else { 0.0 };
                }
            }
        }
        i += MR;
    }
}

/// Write the 4×4 block with rows r0..r3 (4 f32 each) transposed to d[0..16].
#[inline(always)]
pub unsafe fn transpose4(r0: *const f32, r1: *const f32, r2: *const f32, r3: *const f32, d: *mut f32) {
    let (x0, x1) = (v128_load(r0 as *const v128), v128_load(r1 as *const v128));
    let (x2, x3) = (v128_load(r2 as *const v128), v128_load(r3 as *const v128));
    let t0 = i32x4_shuffle::<0, 4, 1, 5>(x0, x1); // a0 b0 a1 b1
    let t1 = i32x4_shuffle::<2, 6, 3, 7>(x0, x1); // a2 b2 a3 b3
    let t2 = i32x4_shuffle::<0, 4, 1, 5>(x2, x3); // c0 d0 c1 d1
    let t3 = i32x4_shuffle::<2, 6, 3, 7>(x2, x3); // c2 d2 c3 d3
    v128_store(d as *mut v128, i64x2_shuffle::<0, 2>(t0, t2));
    v128_store(d.add(4) as *mut v128, i64x2_shuffle::<1, 3>(t0, t2));
    v128_store(d.add(8) as *mut v128, i64x2_shuffle::<0, 2>(t1, t3));
    v128_store(d.add(12) as *mut v128, i64x2_shuffle::<1, 3>(t1, t3));
}
