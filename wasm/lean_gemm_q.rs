//! Lean GEMM with a group-quantized B (src/linalg/quant.ts layout over B's flat storage, [k, n] or
//! [n, k] when transposed): value(f) = (q(f) − zeros[g])·scales[g], g = f / group. B is never
//! expanded to f32 as a whole: lean_gemm's packer is replaced by one that dequantizes each KC×NC
//! block straight into the packed panels (the scratch tile). Codes: 8 bits one per byte; 4 bits two
//! per byte, element 2j in the low nibble of byte j. SIMD fast paths cover runs of 8 (B row-major)
//! or 4 (B transposed) elements that stay inside one group; everything else goes element by element.
use crate::lean_gemm::{gemm_with, View, NR};
use crate::lean_math::st;
use core::arch::wasm32::*;

/// Quantized B: element (p, j) of op(B) is flat index p·rs + j·cs.
#[derive(Clone, Copy)]
pub struct QView {
    pub codes: *const u8,
    pub scales: *const f32,
    pub zeros: *const u8,
    pub bits: u32,
    pub group: usize,
    pub rs: usize,
    pub cs: usize,
}

/// Bytes [b0, b1, …] → [lo(b0), hi(b0), lo(b1), hi(b1), …] (first 8 bytes of the result).
#[inline(always)]
fn nibbles(v: v128) -> v128 {
    let (lo, hi) = (v128_and(v, u8x16_splat(15)), u8x16_shr(v, 4));
    i8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(lo, hi)
}

impl QView {
    #[inline(always)]
    unsafe fn code(&self, f: usize) -> u8 {
        if self.bits == 8 { *self.codes.add(f) } else { (*self.codes.add(f >> 1) >> ((f & 1) * 4)) & 15 }
    }
    #[inline(always)]
    unsafe fn value(&self, f: usize) -> f32 {
        let g = f / self.group;
        (self.code(f) as f32 - *self.zeros.add(g) as f32) * *self.scales.add(g)
    }
    /// Codes f..f+8 as two f32x4 (for 4 bits f must be even); reads only those codes' bytes.
    #[inline(always)]
    unsafe fn codes8(&self, f: usize) -> (v128, v128) {
        let bytes = if self.bits == 8 {
            v128_load64_zero(self.codes.add(f) as *const u64)
        } else {
            nibbles(v128_load32_zero(self.codes.add(f >> 1) as *const u32))
        };
        let w = u16x8_extend_low_u8x16(bytes);
        (f32x4_convert_i32x4(u32x4_extend_low_u16x8(w)), f32x4_convert_i32x4(u32x4_extend_high_u16x8(w)))
    }
    /// Codes f..f+4 as f32x4 (for 4 bits f must be even).
    #[inline(always)]
    unsafe fn codes4(&self, f: usize) -> v128 {
        let bytes = if self.bits == 8 {
            v128_load32_zero(self.codes.add(f) as *const u32)
        } else {
            nibbles(u32x4_splat(core::ptr::read_unaligned(self.codes.add(f >> 1) as *const u16) as u32))
        };
        f32x4_convert_i32x4(u32x4_extend_low_u16x8(u16x8_extend_low_u8x16(bytes)))
    }
    /// (q − z)·s of codes f..f+4 (or +8) lying in one group.
    #[inline(always)]
    unsafe fn dequant(&self, q: v128, f: usize) -> v128 {
        let g = f / self.group;
        f32x4_mul(f32x4_sub(q, f32x4_splat(*self.zeros.add(g) as f32)), f32x4_splat(*self.scales.add(g)))
    }
    /// Whether flat elements f..f+len share one group (and start on a byte for 4 bits).
    #[inline(always)]
    fn uniform(&self, f: usize, len: usize) -> bool {
        f % self.group + len <= self.group && (self.bits == 8 || f & 1 == 0)
    }
}

/// Dequantize op(B)[p0.., j0..] (kc×nc) into NR-column panels (lean_gemm's pack layout).
unsafe fn pack_bq(kc: usize, nc: usize, b: &QView, p0: usize, j0: usize, dst: *mut f32) {
    let mut j = 0;
    while j < nc {
        let nr = if nc - j < NR { nc - j } else { NR };
        let d = dst.add(j * kc);
        let mut p = 0;
        if nr == NR && b.cs == 1 {
            // B row-major: 8 consecutive codes per panel row
            while p < kc {
                let f = (p0 + p) * b.rs + j0 + j;
                if b.uniform(f, 8) {
                    let (x0, x1) = b.codes8(f);
                    st(d.add(p * NR), b.dequant(x0, f));
                    st(d.add(p * NR + 4), b.dequant(x1, f));
                } else {
                    for jj in 0..NR {
                        *d.add(p * NR + jj) = b.value(f + jj);
                    }
                }
                p += 1;
            }
        } else if nr == NR && b.rs == 1 {
            // B transposed: 4 consecutive codes down each of 8 stored rows, transposed in registers
            while p + 4 <= kc {
                let mut t = [f32x4_splat(0.0); NR];
                for jj in 0..NR {
                    let f = (j0 + j + jj) * b.cs + p0 + p;
                    t[jj] = if b.uniform(f, 4) {
                        b.dequant(b.codes4(f), f)
                    } else {
                        f32x4(b.value(f), b.value(f + 1), b.value(f + 2), b.value(f + 3))
                    };
                }
                for half in 0..2 {
                    let r = &t[4 * half..4 * half + 4];
                    let (a0, a1) = (i32x4_shuffle::<0, 4, 1, 5>(r[0], r[1]), i32x4_shuffle::<2, 6, 3, 7>(r[0], r[1]));
                    let (a2, a3) = (i32x4_shuffle::<0, 4, 1, 5>(r[2], r[3]), i32x4_shuffle::<2, 6, 3, 7>(r[2], r[3]));
                    let o = d.add(p * NR + 4 * half);
                    st(o, i64x2_shuffle::<0, 2>(a0, a2));
                    st(o.add(NR), i64x2_shuffle::<1, 3>(a0, a2));
                    st(o.add(2 * NR), i64x2_shuffle::<0, 2>(a1, a3));
                    st(o.add(3 * NR), i64x2_shuffle::<1, 3>(a1, a3));
                }
                p += 4;
            }
        }
        // tails: leftover depth, partial panels, other strides
        for pp in p..kc {
            for jj in 0..NR {
                let v = if jj < nr { b.value((p0 + pp) * b.rs + (j0 + j + jj) * b.cs) } else { 0.0 };
                *d.add(pp * NR + jj) = v;
            }
        }
        j += NR;
    }
}

/// C (m×n) = alpha·A (m×k, row-major)·op(B) [+ C] [+ bias] with B quantized (see module doc).
pub unsafe fn gemm_q(
    a: *const f32, b: QView, c: *mut f32, bias: *const f32, m: usize, n: usize, k: usize, alpha: f32,
    accumulate: bool, scratch: *mut f32,
) {
    let pack = |kc, nc, p0, j0, dst| pack_bq(kc, nc, &b, p0, j0, dst);
    gemm_with(m, n, k, View { p: a, rs: k, cs: 1 }, &pack, c, n, alpha, accumulate, bias, scratch)
}

/// Pack n one-per-byte 4-bit codes two per byte (element 2j low nibble; odd n: last high nibble 0).
pub unsafe fn pack_int4(codes: *const u8, out: *mut u8, n: usize) {
    for j in 0..n / 2 {
        *out.add(j) = (*codes.add(2 * j) & 15) | ((*codes.add(2 * j + 1) & 15) << 4);
    }
    if n % 2 == 1 {
        *out.add(n / 2) = *codes.add(n - 1) & 15;
    }
}
