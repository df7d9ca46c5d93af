//! Lean strided kernels over rank ≤ 6 shapes: broadcasting binary ops, where, and strided copies
//! (transpose / expand / slice / concat / pad). `out` is contiguous in `shape` (copy_strided_out:
//! `x` is), inputs are read at Σ idx·stride (stride 0 = broadcast). The caller drops size-1 dims
//! and merges contiguous ones first, so the innermost dim is long; its stride patterns
//! (1, 1) / (1, 0) / (0, 1) get SIMD loops, everything else a scalar loop.
//! Binary ops: ADD 0, SUB 1, MUL 2, DIV 3 (f32, i32: truncating, x/0 = 0), EQUAL 4, LESS 5 (u8
//! out), AND 6 (u8 in). Return codes: 0 ok, 1 unknown op/dtype combination.
use crate::lean_elementwise::{BOOL, F32, I32, U8};
use crate::lean_math::{ld, st};
use core::arch::wasm32::*;

pub const MAX_RANK: usize = 6;

/// A shape with K stride vectors (in elements).
pub struct Nd<const K: usize> {
    pub rank: usize,
    pub shape: [usize; MAX_RANK],
    pub strides: [[usize; MAX_RANK]; K],
}

impl<const K: usize> Nd<K> {
    /// Call `f(len, offsets, inner strides)` once per innermost row, in row-major order.
    #[inline(always)]
    pub unsafe fn rows(&self, mut f: impl FnMut(usize, [usize; K], [usize; K])) {
        let last = self.rank - 1;
        let mut inner = [0; K];
        for a in 0..K {
            inner[a] = self.strides[a][last];
        }
        let mut count = 1;
        for d in 0..last {
            count *= self.shape[d];
        }
        let (mut idx, mut off) = ([0usize; MAX_RANK], [0usize; K]);
        for _ in 0..count {
            f(self.shape[last], off, inner);
            let mut d = last;
            while d > 0 {
                d -= 1;
                idx[d] += 1;
                for a in 0..K {
                    off[a] = off[a].wrapping_add(self.strides[a][d]);
                }
                if idx[d] < self.shape[d] {
                    break;
                }
                for a in 0..K {
                    off[a] = off[a].wrapping_sub(self.strides[a][d] * self.shape[d]);
                }
                idx[d] = 0;
            }
        }
    }
}

/// One innermost row: out[i] = f(a[i·sa], b[i·sb]), with the common stride patterns unrolled.
#[inline(always)]
unsafe fn row<A: Copy, O>(len: usize, a: *const A, sa: usize, b: *const A, sb: usize, o: *mut O, f: impl Fn(A, A) -> O) {
    match (sa, sb) {
        (1, 1) => (0..len).for_each(|i| *o.add(i) = f(*a.add(i), *b.add(i))),
        (1, 0) => {
            let y = *b;
            (0..len).for_each(|i| *o.add(i) = f(*a.add(i), y))
        }
        (0, 1) => {
            let x = *a;
            (0..len).for_each(|i| *o.add(i) = f(x, *b.add(i)))
        }
        _ => (0..len).for_each(|i| *o.add(i) = f(*a.add(i * sa), *b.add(i * sb))),
    }
}

/// f32 arithmetic row with explicit SIMD (same-index reads and writes, so in place works).
#[inline(always)]
unsafe fn row_f32(
    len: usize, a: *const f32, sa: usize, b: *const f32, sb: usize, o: *mut f32, v: impl Fn(v128, v128) -> v128,
    s: impl Fn(f32, f32) -> f32,
) {
    let mut i = 0;
    match (sa, sb) {
        (1, 1) => {
            while i + 4 <= len {
                st(o.add(i), v(ld(a.add(i)), ld(b.add(i))));
                i += 4;
            }
        }
        (1, 0) => {
            let y = v128_load32_splat(b as *const u32);
            while i + 4 <= len {
                st(o.add(i), v(ld(a.add(i)), y));
                i += 4;
            }
        }
        (0, 1) => {
            let x = v128_load32_splat(a as *const u32);
            while i + 4 <= len {
                st(o.add(i), v(x, ld(b.add(i))));
                i += 4;
            }
        }
        _ => {}
    }
    for j in i..len {
        *o.add(j) = s(*a.add(j * sa), *b.add(j * sb));
    }
}

/// out = a ∘ b with broadcasting strides (index 0: a, 1: b; out contiguous).
pub unsafe fn binary(op: u32, dtype: u32, a: *const u8, b: *const u8, out: *mut u8, nd: &Nd<2>) -> i32 {
    let dtype = if dtype == BOOL { U8 } else { dtype };
    let mut o = 0usize;
    macro_rules! each {
        ($ta:ty, $to:ty, $f:expr) => {
            nd.rows(|len, off, s| {
                let (pa, pb) = ((a as *const $ta).add(off[0]), (b as *const $ta).add(off[1]));
                row(len, pa, s[0], pb, s[1], (out as *mut $to).add(o), $f);
                o += len;
            })
        };
    }
    macro_rules! each_f32 {
        ($v:expr, $s:expr) => {
            nd.rows(|len, off, s| {
                let (pa, pb) = ((a as *const f32).add(off[0]), (b as *const f32).add(off[1]));
                row_f32(len, pa, s[0], pb, s[1], (out as *mut f32).add(o), $v, $s);
                o += len;
            })
        };
    }
    match (dtype, op) {
        (F32, 0) => each_f32!(|x, y| f32x4_add(x, y), |x, y| x + y),
        (F32, 1) => each_f32!(|x, y| f32x4_sub(x, y), |x, y| x - y),
        (F32, 2) => each_f32!(|x, y| f32x4_mul(x, y), |x, y| x * y),
        (F32, 3) => each_f32!(|x, y| f32x4_div(x, y), |x, y| x / y),
        (F32, 4) => each!(f32, u8, |x: f32, y: f32| (x == y) as u8),
        (F32, 5) => each!(f32, u8, |x: f32, y: f32| (x < y) as u8),
        (I32, 0) => each!(i32, i32, |x: i32, y: i32| x.wrapping_add(y)),
        (I32, 1) => each!(i32, i32, |x: i32, y: i32| x.wrapping_sub(y)),
        (I32, 2) => each!(i32, i32, |x: i32, y: i32| x.wrapping_mul(y)),
        (I32, 3) => each!(i32, i32, |x: i32, y: i32| if y == 0 { 0 } else { x.wrapping_div(y) }),
        (I32, 4) => each!(i32, u8, |x: i32, y: i32| (x == y) as u8),
        (I32, 5) => each!(i32, u8, |x: i32, y: i32| (x < y) as u8),
        (U8, 4) => each!(u8, u8, |x: u8, y: u8| (x == y) as u8),
        (U8, 5) => each!(u8, u8, |x: u8, y: u8| (x < y) as u8),
        (U8, 6) => each!(u8, u8, |x: u8, y: u8| (x != 0 && y != 0) as u8),
        _ => return 1,
    }
    0
}

/// out = cond ? a : b (index 0: cond u8, 1: a, 2: b); element size from dtype (F32/I32 4, U8 1).
pub unsafe fn select(cond: *const u8, a: *const u8, b: *const u8, out: *mut u8, dtype: u32, nd: &Nd<3>) -> i32 {
    let mut o = 0usize;
    macro_rules! each {
        ($t:ty) => {
            nd.rows(|len, off, s| {
                let (pc, pa, pb) = (cond.add(off[0]), (a as *const $t).add(off[1]), (b as *const $t).add(off[2]));
                let po = (out as *mut $t).add(o);
                for i in 0..len {
                    *po.add(i) = if *pc.add(i * s[0]) != 0 { *pa.add(i * s[1]) } else { *pb.add(i * s[2]) };
                }
                o += len;
            })
        };
    }
    match dtype {
        F32 | I32 => each!(u32),
        U8 | BOOL => each!(u8),
        _ => return 1,
    }
    0
}

/// Element size in bytes of a dtype code (0 if unknown).
pub fn elem_size(dtype: u32) -> usize {
    match dtype {
        F32 | I32 => 4,
        U8 | BOOL => 1,
        _ => 0,
    }
}

/// Copy between a contiguous buffer and a strided view (index 0 of nd) starting at element
/// `offset`: gather (x strided → out contiguous) when `scatter` is false, else the reverse.
pub unsafe fn copy_strided(x: *const u8, out: *mut u8, dtype: u32, nd: &Nd<1>, offset: usize, scatter: bool) -> i32 {
    let mut o = 0usize;
    macro_rules! each {
        ($t:ty) => {
            nd.rows(|len, off, s| {
                let strided = (if scatter { out as *const $t } else { x as *const $t }).add(offset + off[0]);
                let flat = (if scatter { x } else { out as *const u8 } as *const $t).add(o);
                if scatter {
                    let (d, src) = (strided as *mut $t, flat);
                    if s[0] == 1 {
                        core::ptr::copy(src, d, len);
                    } else {
                        (0..len).for_each(|i| *d.add(i * s[0]) = *src.add(i));
                    }
                } else {
                    let d = flat as *mut $t;
                    match s[0] {
                        1 => core::ptr::copy(strided, d, len),
                        0 => {
                            let v = *strided;
                            (0..len).for_each(|i| *d.add(i) = v)
                        }
                        _ => (0..len).for_each(|i| *d.add(i) = *strided.add(i * s[0])),
                    }
                }
                o += len;
            })
        };
    }
    match elem_size(dtype) {
        4 => each!(u32),
        1 => each!(u8),
        _ => return 1,
    }
    0
}
