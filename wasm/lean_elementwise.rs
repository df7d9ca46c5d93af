//! Lean contiguous elementwise kernels: unary f32 maps (and the SiLU / tanh-GELU derivatives),
//! fill, axpy, scale, Σx², logical not and dtype casts. Every kernel reads element i before it
//! writes element i, so `out` may alias an input (in place). Dtype codes: F32 0, I32 1, U8 2,
//! BOOL 3 (a u8 of 0/1; as a cast target x ≠ 0). Return codes: 0 ok, 1 unknown op or dtype.
use crate::lean_math::*;
use core::arch::wasm32::*;

pub const F32: u32 = 0;
pub const I32: u32 = 1;
pub const U8: u32 = 2;
pub const BOOL: u32 = 3;

/// out[i] = f(x[i]) for f32: 4 lanes at a time, the tail through a zero-padded vector.
#[inline(always)]
unsafe fn map(x: *const f32, out: *mut f32, n: usize, f: impl Fn(v128) -> v128) {
    let mut i = 0;
    while i + 4 <= n {
        st(out.add(i), f(ld(x.add(i))));
        i += 4;
    }
    if i < n {
        let mut t = [0f32; 4];
        for j in i..n {
            t[j - i] = *x.add(j);
        }
        st(t.as_mut_ptr(), f(ld(t.as_ptr())));
        for j in i..n {
            *out.add(j) = t[j - i];
        }
    }
}

/// out[i] = g[i]·f(x[i]).
#[inline(always)]
unsafe fn map2(g: *const f32, x: *const f32, out: *mut f32, n: usize, f: impl Fn(v128) -> v128) {
    let mut i = 0;
    while i + 4 <= n {
        st(out.add(i), f32x4_mul(ld(g.add(i)), f(ld(x.add(i)))));
        i += 4;
    }
    for j in i..n {
        let mut t = [0f32; 4];
        t[0] = *x.add(j);
        let d = f32x4_extract_lane::<0>(f(ld(t.as_ptr())));
        *out.add(j) = *g.add(j) * d;
    }
}

/// Unary op codes: NEG 0, EXP 1, LOG 2, SQRT 3, RECIPROCAL 4, TANH 5, SIGMOID 6, COS 7, SIN 8,
/// SILU 9, GELU_TANH 10, COPY 11.
pub unsafe fn unary(op: u32, x: *const f32, out: *mut f32, n: usize) -> i32 {
    let k = K::load();
    match op {
        0 => map(x, out, n, |v| f32x4_neg(v)),
        1 => map(x, out, n, |v| k.exp(v)),
        2 => map(x, out, n, log4),
        3 => map(x, out, n, |v| f32x4_sqrt(v)),
        4 => map(x, out, n, |v| f32x4_div(splat(1.0), v)),
        5 => map(x, out, n, |v| k.tanh(v)),
        6 => map(x, out, n, |v| k.sigmoid(v)),
        7 | 8 => {
            for i in 0..n {
                let (s, c) = sincos(*x.add(i));
                *out.add(i) = if op == 7 { c } else { s };
            }
        }
        9 => map(x, out, n, |v| f32x4_mul(v, k.sigmoid(v))),
        10 => map(x, out, n, |v| k.gelu(v)),
        11 => {
            if x != out as *const f32 {
                core::ptr::copy(x, out, n);
            }
        }
        _ => return 1,
    }
    0
}

/// out = g·f′(x) for SILU (9) and GELU_TANH (10).
pub unsafe fn unary_backward(op: u32, g: *const f32, x: *const f32, out: *mut f32, n: usize) -> i32 {
    let k = K::load();
    match op {
        9 => map2(g, x, out, n, |v| k.silu_grad(v)),
        10 => map2(g, x, out, n, |v| k.gelu_grad(v)),
        _ => return 1,
    }
    0
}

/// out[0..n] = value (as the dtype's bits; f32 value for F32, truncated for I32, U8, BOOL).
pub unsafe fn fill(out: *mut u8, dtype: u32, n: usize, value: f32) -> i32 {
    match dtype {
        F32 | I32 => {
            let bits = if dtype == F32 { value.to_bits() } else { value as i32 as u32 };
            let o = out as *mut u32;
            let v = u32x4_splat(bits);
            let mut i = 0;
            while i + 4 <= n {
                v128_store(o.add(i) as *mut v128, v);
                i += 4;
            }
            for j in i..n {
                *o.add(j) = bits;
            }
        }
        U8 | BOOL => core::ptr::write_bytes(out, if dtype == BOOL { (value != 0.0) as u8 } else { value as u8 }, n),
        _ => return 1,
    }
    0
}

/// y += alpha·x.
pub unsafe fn axpy(alpha: f32, x: *const f32, y: *mut f32, n: usize) {
    let a = splat(alpha);
    let mut i = 0;
    while i + 4 <= n {
        st(y.add(i), madd(ld(y.add(i)), a, ld(x.add(i))));
        i += 4;
    }
    for j in i..n {
        *y.add(j) += alpha * *x.add(j);
    }
}

/// out = alpha·x.
pub unsafe fn scale(x: *const f32, alpha: f32, out: *mut f32, n: usize) {
    map(x, out, n, |v| f32x4_mul(v, splat(alpha)));
}

/// Σ x² in f64 (two f64x2 accumulators per 4 lanes).
pub unsafe fn sum_squares(x: *const f32, n: usize) -> f64 {
    let (mut lo, mut hi) = (f64x2_splat(0.0), f64x2_splat(0.0));
    let mut i = 0;
    while i + 4 <= n {
        let v = ld(x.add(i));
        let (a, b) = (f64x2_promote_low_f32x4(v), f64x2_promote_low_f32x4(i32x4_shuffle::<2, 3, 0, 1>(v, v)));
        lo = f64x2_add(lo, f64x2_mul(a, a));
        hi = f64x2_add(hi, f64x2_mul(b, b));
        i += 4;
    }
    let s = f64x2_add(lo, hi);
    let mut total = f64x2_extract_lane::<0>(s) + f64x2_extract_lane::<1>(s);
    for j in i..n {
        let v = *x.add(j) as f64;
        total += v * v;
    }
    total
}

/// out = (x == 0) for u8 booleans.
pub unsafe fn not(x: *const u8, out: *mut u8, n: usize) {
    for i in 0..n {
        *out.add(i) = (*x.add(i) == 0) as u8;
    }
}

/// out = x converted: f32→i32 truncates toward zero (saturating, NaN → 0), f32→u8 truncates and
/// saturates, i32→u8 keeps the low byte, anything→BOOL is x ≠ 0, u8/bool→f32 gives the byte value.
pub unsafe fn cast(x: *const u8, from: u32, out: *mut u8, to: u32, n: usize) -> i32 {
    let (xf, xi) = (x as *const f32, x as *const i32);
    let (of, oi) = (out as *mut f32, out as *mut i32);
    let from = if from == BOOL { U8 } else { from };
    // out may alias x only for equal element sizes, which every loop below handles (i before i)
    match (from, to) {
        (F32, F32) | (I32, I32) => core::ptr::copy(x, out, 4 * n),
        (U8, U8) => core::ptr::copy(x, out, n),
        (F32, I32) => (0..n).for_each(|i| *oi.add(i) = *xf.add(i) as i32),
        (I32, F32) => (0..n).for_each(|i| *of.add(i) = *xi.add(i) as f32),
        (F32, U8) => (0..n).for_each(|i| *out.add(i) = *xf.add(i) as u8),
        (I32, U8) => (0..n).for_each(|i| *out.add(i) = *xi.add(i) as u8),
        (F32, BOOL) => (0..n).for_each(|i| *out.add(i) = (*xf.add(i) != 0.0) as u8),
        (I32, BOOL) => (0..n).for_each(|i| *out.add(i) = (*xi.add(i) != 0) as u8),
        (U8, BOOL) => (0..n).for_each(|i| *out.add(i) = (*x.add(i) != 0) as u8),
        // widening casts run backwards so that an in-place call does not clobber unread input
        (U8, F32) => (0..n).rev().for_each(|i| *of.add(i) = *x.add(i) as f32),
        (U8, I32) => (0..n).rev().for_each(|i| *oi.add(i) = *x.add(i) as i32),
        _ => return 1,
    }
    0
}

/// One AdamW step in place (src/optim/adamw.ts without a projector): m = β₁m + c₁g,
/// v = β₂v + c₂g², w = w·keep − step_size·m/(√v/√bc₂ + ε), with c = 1 − β, keep = 1 − lr·λ,
/// step_size = lr/bc₁, bc = 1 − βᵗ (c and the rest computed by the caller in f64).
pub unsafe fn adamw(
    w: *mut f32, g: *const f32, m: *mut f32, v: *mut f32, n: usize, b1: f32, c1: f32, b2: f32, c2: f32, eps: f32,
    keep: f32, step_size: f32, sqrt_bc2: f32,
) {
    let (vb1, vb2, vc1, vc2) = (splat(b1), splat(b2), splat(c1), splat(c2));
    let (ve, vk, vs, vq) = (splat(eps), splat(keep), splat(step_size), splat(sqrt_bc2));
    let mut i = 0;
    while i + 4 <= n {
        let gi = ld(g.add(i));
        let mi = madd(f32x4_mul(vb1, ld(m.add(i))), vc1, gi);
        let vi = madd(f32x4_mul(vb2, ld(v.add(i))), vc2, f32x4_mul(gi, gi));
        let den = f32x4_add(f32x4_div(f32x4_sqrt(vi), vq), ve);
        st(m.add(i), mi);
        st(v.add(i), vi);
        st(w.add(i), f32x4_sub(f32x4_mul(ld(w.add(i)), vk), f32x4_div(f32x4_mul(vs, mi), den)));
        i += 4;
    }
    for j in i..n {
        let gj = *g.add(j);
        let mj = b1 * *m.add(j) + c1 * gj;
        let vj = b2 * *v.add(j) + c2 * gj * gj;
        *m.add(j) = mj;
        *v.add(j) = vj;
        let den = f32x4_extract_lane::<0>(f32x4_sqrt(splat(vj))) / sqrt_bc2 + eps;
        *w.add(j) = *w.add(j) * keep - step_size * mj / den;
    }
}
