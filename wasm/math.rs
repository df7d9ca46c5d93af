//! Scalar math core lacks in no_std (sqrt, abs, floor, round-half-even, cos of rational angles),
//! the shared seeded PRNG (mirrors src/linalg/rng.ts bit for bit) and f64x2 vector helpers.
use core::arch::wasm32::*;

#[inline(always)]
pub fn sqrt64(x: f64) -> f64 {
    f64x2_extract_lane::<0>(f64x2_sqrt(f64x2_splat(x)))
}

#[inline(always)]
pub fn abs64(x: f64) -> f64 {
    f64::from_bits(x.to_bits() & 0x7fff_ffff_ffff_ffff)
}

#[inline(always)]
pub fn abs32(x: f32) -> f32 {
    f32::from_bits(x.to_bits() & 0x7fff_ffff)
}

#[inline(always)]
pub fn floor32(x: f32) -> f32 {
    f32x4_extract_lane::<0>(f32x4_floor(f32x4_splat(x)))
}

/// Round half to even (`torch.round`).
#[inline(always)]
pub fn nearest32(x: f32) -> f32 {
    f32x4_extract_lane::<0>(f32x4_nearest(f32x4_splat(x)))
}

/// sqrt(a² + b²) without overflow (same formula as the TS reference).
pub fn hypot(a: f64, b: f64) -> f64 {
    let (a, b) = (abs64(a), abs64(b));
    let (big, small) = if a > b { (a, b) } else { (b, a) };
    if big == 0.0 {
        return 0.0;
    }
    let t = small / big;
    big * sqrt64(1.0 + t * t)
}

/// cos(π·p / (2n)) for integers p ≥ 0, n ≥ 1: exact integer range reduction to [0, π/4], then
/// Taylor series (error < 1e-17 there).
pub fn cos_half_pi_frac(p: u64, n: u64) -> f64 {
    let p = p % (4 * n);
    let quadrant = p / n;
    let mut rem = p % n;
    // angle within the quadrant: x = (π/2)·rem/n; use the complement when x > π/4
    let swap = 2 * rem > n;
    if swap {
        rem = n - rem;
    }
    let x = core::f64::consts::FRAC_PI_2 * (rem as f64) / (n as f64);
    let (c, s) = (cos_small(x), sin_small(x));
    let (cx, sx) = if swap { (s, c) } else { (c, s) };
    match quadrant {
        0 => cx,
        1 => -sx,
        2 => -cx,
        _ => sx,
    }
}

fn cos_small(x: f64) -> f64 {
    let x2 = x * x;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 0.0;
    while k < 22.0 {
        term *= -x2 / ((k + 1.0) * (k + 2.0));
        sum += term;
        k += 2.0;
    }
    sum
}

fn sin_small(x: f64) -> f64 {
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    let mut k = 1.0;
    while k < 23.0 {
        term *= -x2 / ((k + 1.0) * (k + 2.0));
        sum += term;
        k += 2.0;
    }
    sum
}

/// lowbias32 integer hash (C. Wellons).
#[inline(always)]
pub fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// Initial xorshift32 state of stream `stream` for `seed` (never 0).
#[inline(always)]
pub fn stream_state(seed: u32, stream: u32) -> u32 {
    let s = mix32(seed.wrapping_add(stream.wrapping_add(1).wrapping_mul(0x9e37_79b9)));
    if s == 0 {
        0x6d2b_79f5
    } else {
        s
    }
}

/// Marsaglia xorshift32 step.
#[inline(always)]
pub fn xorshift(x: &mut u32) -> u32 {
    let mut s = *x;
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    *x = s;
    s
}

/// Uniform in [-1, 1) with 24 random bits (exact in f32).
#[inline(always)]
pub fn uniform_pm1(x: &mut u32) -> f32 {
    ((xorshift(x) >> 8) as f32) * (1.0 / 8_388_608.0) - 1.0
}

/// Σ x[i]·y[i] over n f64s.
#[inline]
pub unsafe fn dot64(x: *const f64, y: *const f64, n: usize) -> f64 {
    let (mut a0, mut a1) = (f64x2_splat(0.0), f64x2_splat(0.0));
    let mut i = 0;
    while i + 4 <= n {
        a0 = f64x2_add(a0, f64x2_mul(v128_load(x.add(i) as *const v128), v128_load(y.add(i) as *const v128)));
        a1 = f64x2_add(a1, f64x2_mul(v128_load(x.add(i + 2) as *const v128), v128_load(y.add(i + 2) as *const v128)));
        i += 4;
    }
    let a = f64x2_add(a0, a1);
    let mut s = f64x2_extract_lane::<0>(a) + f64x2_extract_lane::<1>(a);
    while i < n {
        s += *x.add(i) * *y.add(i);
        i += 1;
    }
    s
}

/// y[i] += alpha·x[i] over n f64s.
#[inline]
pub unsafe fn axpy64(alpha: f64, x: *const f64, y: *mut f64, n: usize) {
    let av = f64x2_splat(alpha);
    let mut i = 0;
    while i + 2 <= n {
        let yp = y.add(i) as *mut v128;
        v128_store(yp, f64x2_add(v128_load(yp), f64x2_mul(av, v128_load(x.add(i) as *const v128))));
        i += 2;
    }
    if i < n {
        *y.add(i) += alpha * *x.add(i);
    }
}

/// (x, y) ← (c·x − s·y, s·x + c·y) over n f64s (a plane rotation of two rows).
#[inline]
pub unsafe fn rot64(x: *mut f64, y: *mut f64, n: usize, c: f64, s: f64) {
    let (cv, sv) = (f64x2_splat(c), f64x2_splat(s));
    let mut i = 0;
    while i + 2 <= n {
        let (xp, yp) = (x.add(i) as *mut v128, y.add(i) as *mut v128);
        let (xv, yv) = (v128_load(xp), v128_load(yp));
        v128_store(xp, f64x2_sub(f64x2_mul(cv, xv), f64x2_mul(sv, yv)));
        v128_store(yp, f64x2_add(f64x2_mul(sv, xv), f64x2_mul(cv, yv)));
        i += 2;
    }
    if i < n {
        let (xv, yv) = (*x.add(i), *y.add(i));
        *x.add(i) = c * xv - s * yv;
        *y.add(i) = s * xv + c * yv;
    }
}

/// Scalar f32 square root through the SIMD instruction (no libm in no_std).
#[allow(dead_code)] // no caller since low_rank_adam went; kept for the kernels that need one
#[inline(always)]
pub fn sqrt32(x: f32) -> f32 {
    f32x4_extract_lane::<0>(f32x4_sqrt(f32x4_splat(x)))
}
