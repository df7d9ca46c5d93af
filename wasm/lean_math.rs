//! Vector math for the lean kernels (no_std has no libm): f32x4 exp, log, tanh, sigmoid, tanh-GELU
//! (Cephes single-precision polynomials, ≈ 1–2 ulp; `K` holds their constants), scalar sin/cos with the argument reduced in f64
//! (x − n·π/2 with a two-part π/2, accurate for |x| ≲ 1e9) and f64 Taylor polynomials on [−π/4, π/4].
//! Plus small helpers shared by the lean_*.rs files (loads/stores, horizontal sums).
use core::arch::wasm32::*;

#[inline(always)]
pub unsafe fn ld(p: *const f32) -> v128 {
    v128_load(p as *const v128)
}

#[inline(always)]
pub unsafe fn st(p: *mut f32, v: v128) {
    v128_store(p as *mut v128, v)
}

#[inline(always)]
pub fn splat(x: f32) -> v128 {
    f32x4_splat(x)
}

/// a + b·c (no FMA in baseline SIMD128).
#[inline(always)]
pub fn madd(a: v128, b: v128, c: v128) -> v128 {
    f32x4_add(a, f32x4_mul(b, c))
}

/// Sum of the four lanes.
#[inline(always)]
pub fn hsum(v: v128) -> f32 {
    let s = f32x4_add(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
    let s = f32x4_add(s, i32x4_shuffle::<1, 0, 3, 2>(s, s));
    f32x4_extract_lane::<0>(s)
}

/// Max of the four lanes.
#[inline(always)]
pub fn hmax(v: v128) -> f32 {
    let s = f32x4_max(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
    let s = f32x4_max(s, i32x4_shuffle::<1, 0, 3, 2>(s, s));
    f32x4_extract_lane::<0>(s)
}

/// ln x per lane (Cephes logf); 0 → −∞, negative → NaN, +∞ → +∞, subnormals rescaled.
#[inline(always)]
pub fn log4(x: v128) -> v128 {
    let sub = f32x4_lt(x, splat(1.175_494_4e-38));
    let xs = v128_bitselect(f32x4_mul(x, splat(33_554_432.0)), x, sub); // ·2²⁵
    let bits = xs;
    let mut e = f32x4_convert_i32x4(i32x4_sub(u32x4_shr(bits, 23), i32x4_splat(126)));
    e = v128_bitselect(f32x4_sub(e, splat(25.0)), e, sub);
    // mantissa in [0.5, 1)
    let m = v128_or(v128_and(bits, i32x4_splat(0x007f_ffff)), i32x4_splat(0x3f00_0000));
    let small = f32x4_lt(m, splat(core::f32::consts::FRAC_1_SQRT_2));
    e = v128_bitselect(f32x4_sub(e, splat(1.0)), e, small);
    let t = f32x4_sub(v128_bitselect(f32x4_add(m, m), m, small), splat(1.0));
    let z = f32x4_mul(t, t);
    let mut p = splat(7.037_683_6e-2);
    p = madd(splat(-1.151_461e-1), p, t);
    p = madd(splat(1.167_699_9e-1), p, t);
    p = madd(splat(-1.242_014_1e-1), p, t);
    p = madd(splat(1.424_932_3e-1), p, t);
    p = madd(splat(-1.666_805_8e-1), p, t);
    p = madd(splat(2.000_071_4e-1), p, t);
    p = madd(splat(-2.499_999_4e-1), p, t);
    p = madd(splat(3.333_333_1e-1), p, t);
    let mut y = f32x4_mul(f32x4_mul(p, t), z);
    y = madd(y, e, splat(-2.121_944_4e-4));
    y = madd(y, z, splat(-0.5));
    let r = f32x4_add(f32x4_add(t, y), f32x4_mul(e, splat(0.693_359_4)));
    // specials: x = 0 → −∞; x < 0 or NaN → NaN; x = +∞ → +∞
    let r = v128_bitselect(splat(f32::NEG_INFINITY), r, f32x4_eq(x, splat(0.0)));
    let r = v128_bitselect(splat(f32::NAN), r, v128_not(f32x4_ge(x, splat(0.0))));
    v128_bitselect(x, r, f32x4_eq(x, splat(f32::INFINITY)))
}

/// Constants of the f32x4 transcendental functions, read from memory once per kernel call
/// (`K::load()`, hoisted out of the loops) and kept in locals: V8 rebuilds every non-trivial
/// v128.const with several instructions at each use, which doubled the cost of exp.
pub struct K {
    c: [v128; 24],
    /// i32 lanes: 127 (the f32 exponent bias) and the sign bit
    bias: v128,
    sign: v128,
}

static INT_CONSTS: [i32; 2] = [127, i32::MIN];

static CONSTS: [f32; 24] = [
    // 0..6: exp range, log₂e, 1.5·2²³ (round-to-integer trick), ln 2 in two parts
    -87.336_54,
    88.722_83,
    core::f32::consts::LOG2_E,
    12_582_912.0,
    0.693_359_4,
    -2.121_944_4e-4,
    // 6..12: exp polynomial (Cephes expf)
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    5.000_000_1e-1,
    // 12..17: tanh odd polynomial for |x| < 0.625 (Cephes tanhf)
    -5.704_988_7e-3,
    2.063_908_9e-2,
    -5.373_971_6e-2,
    1.333_144_2e-1,
    -3.333_328_2e-1,
    // 17..24: 1, 2, 0.625, +∞, 0.5, √(2/π), 0.044715
    1.0,
    2.0,
    0.625,
    f32::INFINITY,
    0.5,
    0.797_884_6,
    0.044_715,
];

impl K {
    #[inline(always)]
    pub fn load() -> K {
        let mut c = [f32x4_splat(0.0); 24];
        for i in 0..24 {
            // volatile: LLVM must not fold the table back into per-use immediates
            c[i] = f32x4_splat(unsafe { core::ptr::read_volatile(&CONSTS[i]) });
        }
        let ic = |i: usize| i32x4_splat(unsafe { core::ptr::read_volatile(&INT_CONSTS[i]) });
        K { c, bias: ic(0), sign: ic(1) }
    }

    /// eˣ: 2ⁿ·e^r, n = round(x·log₂e) (1.5·2²³ trick), r = x − n·ln2 (two-part), degree-6
    /// polynomial; exactly 0 below −87.34 (masked −1e9 scores vanish), +∞ above 88.72.
    #[inline(always)]
    pub fn exp(&self, x: v128) -> v128 {
        let c = &self.c;
        let lo = f32x4_lt(x, c[0]);
        let hi = f32x4_gt(x, c[1]);
        // pmin / pmax are single x86 instructions (min / max are not) and still pass NaN through
        let xc = f32x4_pmin(f32x4_pmax(x, c[0]), c[1]);
        let t = f32x4_add(f32x4_mul(xc, c[2]), c[3]);
        let n = f32x4_sub(t, c[3]);
        let r = f32x4_sub(f32x4_sub(xc, f32x4_mul(n, c[4])), f32x4_mul(n, c[5]));
        let mut p = c[6];
        for i in 7..12 {
            p = madd(c[i], p, r);
        }
        let y = f32x4_add(madd(r, p, f32x4_mul(r, r)), c[17]);
        // 2ⁿ in two halves so n = 128 (x near 88.7) does not overflow the exponent field
        let ni = i32x4_sub(t, c[3]);
        let h = i32x4_shr(ni, 1);
        let p1 = i32x4_shl(i32x4_add(h, self.bias), 23);
        let p2 = i32x4_shl(i32x4_add(i32x4_sub(ni, h), self.bias), 23);
        let y = f32x4_mul(f32x4_mul(y, p1), p2);
        v128_bitselect(c[20], v128_andnot(y, lo), hi)
    }

    /// tanh: odd polynomial for |x| < 0.625, else sign·(1 − 2/(e^{2|x|} + 1)).
    #[inline(always)]
    pub fn tanh(&self, x: v128) -> v128 {
        let c = &self.c;
        let ax = v128_andnot(x, self.sign);
        let z = f32x4_mul(x, x);
        let mut p = c[12];
        for i in 13..17 {
            p = madd(c[i], p, z);
        }
        let small = madd(x, f32x4_mul(p, z), x);
        let e = self.exp(f32x4_add(ax, ax));
        let big = f32x4_sub(c[17], f32x4_div(c[18], f32x4_add(e, c[17])));
        let big = v128_or(big, v128_and(x, self.sign)); // copy the sign of x
        v128_bitselect(small, big, f32x4_lt(ax, c[19]))
    }

    /// σ(x) = 1/(1 + e^{−x}).
    #[inline(always)]
    pub fn sigmoid(&self, x: v128) -> v128 {
        f32x4_div(self.c[17], f32x4_add(self.c[17], self.exp(v128_xor(x, self.sign))))
    }

    /// ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    #[inline(always)]
    pub fn gelu(&self, x: v128) -> v128 {
        let c = &self.c;
        let x3 = f32x4_mul(f32x4_mul(x, x), x);
        let u = f32x4_mul(madd(x, x3, c[23]), c[22]);
        f32x4_mul(f32x4_mul(x, c[21]), f32x4_add(self.tanh(u), c[17]))
    }

    /// d/dx gelu: ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²), t = tanh(u).
    #[inline(always)]
    pub fn gelu_grad(&self, x: v128) -> v128 {
        let c = &self.c;
        let x2 = f32x4_mul(x, x);
        let u = f32x4_mul(f32x4_mul(x, madd(c[17], x2, c[23])), c[22]);
        let t = self.tanh(u);
        let three = f32x4_add(c[17], c[18]);
        let du = f32x4_mul(madd(c[17], x2, f32x4_mul(three, c[23])), c[22]);
        let left = f32x4_mul(c[21], f32x4_add(c[17], t));
        let right = f32x4_mul(f32x4_mul(f32x4_mul(c[21], x), f32x4_sub(c[17], f32x4_mul(t, t))), du);
        f32x4_add(left, right)
    }

    /// σ(x)(1 + x(1 − σ(x))), the SiLU derivative.
    #[inline(always)]
    pub fn silu_grad(&self, x: v128) -> v128 {
        let s = self.sigmoid(x);
        f32x4_mul(s, madd(self.c[17], x, f32x4_sub(self.c[17], s)))
    }
}

const PIO2_HI: f64 = 1.570_796_326_734_125_6;
const PIO2_LO: f64 = 6.077_100_506_506_192e-11;

/// (sin x, cos x) for f32 x, computed in f64.
pub fn sincos(x: f32) -> (f32, f32) {
    let x = x as f64;
    if !(x - x == 0.0) {
        return (f32::NAN, f32::NAN); // ±∞ or NaN
    }
    let n = f64x2_extract_lane::<0>(f64x2_nearest(f64x2_splat(x * core::f64::consts::FRAC_2_PI)));
    let r = (x - n * PIO2_HI) - n * PIO2_LO;
    let z = r * r;
    // Taylor to r¹⁵ / r¹⁴: truncation < 1e-16 on |r| ≤ π/4
    let s = r * (1.0 + z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0 + z * (1.0 / 362_880.0
        + z * (-1.0 / 39_916_800.0 + z * (1.0 / 6_227_020_800.0 + z * (-1.0 / 1_307_674_368_000.0))))))));
    let c = 1.0 + z * (-0.5 + z * (1.0 / 24.0 + z * (-1.0 / 720.0 + z * (1.0 / 40_320.0 + z * (-1.0 / 3_628_800.0
        + z * (1.0 / 479_001_600.0 + z * (-1.0 / 87_178_291_200.0)))))));
    let q = (n as i64) & 3;
    let (sn, cs) = match q {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    };
    (sn as f32, cs as f32)
}
