//! Mixed-radix complex FFT (Cooley & Tukey 1965; Singleton 1969, "An algorithm for computing the
//! mixed radix fast Fourier transform"), sign +1 and unnormalized: X[k] = Σ_j x[j]·e^{+2πi·jk/n}.
//! One call transforms a panel of LANES independent vectors: element j of every vector is one row
//! of LANES f32 (split re / im arrays), so each butterfly is f32x4 SIMD across vectors. In-place
//! decimation in frequency with radix 4 first, then 2, 3 and any other prime (a plain p-point DFT,
//! so a prime n costs O(n²)); the output stays digit-reversed (row p holds X[rev[p]]) and the
//! caller folds that permutation into its own store. Mirrors src/linalg/fft.ts.
use crate::math::cos_half_pi_frac;
use crate::scratch;
use core::arch::wasm32::*;

/// v128 per row; LANES = 4·VECS vectors per panel.
pub const VECS: usize = 2;
pub const LANES: usize = 4 * VECS;

/// Stage radices, the root table e^{2πi·t/n} and the digit reversal of an n-point FFT.
pub struct Plan {
    pub n: usize,
    nf: usize,
    factors: [usize; 64],
    cos: *mut f32,
    sin: *mut f32,
    /// Row p of the transformed panel holds X[rev[p]].
    pub rev: *mut u32,
    /// 2·p rows for the generic radix-p butterfly (p = the largest factor other than 2, 3, 4).
    tmp: *mut f32,
}

/// Plan an n-point FFT (n ≥ 1); tables come from the arena.
pub unsafe fn plan(n: usize) -> Plan {
    let mut factors = [0usize; 64];
    let (mut nf, mut rest) = (0, n);
    for p in [4usize, 2, 3] {
        while rest % p == 0 {
            factors[nf] = p;
            nf += 1;
            rest /= p;
        }
    }
    let (mut p, mut big) = (5, 1);
    while rest > 1 {
        if p * p > rest {
            p = rest;
        }
        while rest % p == 0 {
            factors[nf] = p;
            nf += 1;
            rest /= p;
            big = p;
        }
        p += 2;
    }
    let (cos, sin) = (scratch::<f32>(n), scratch::<f32>(n));
    for t in 0..n {
        // cos(2πt/n) = cos(π·4t / 2n), sin(2πt/n) = cos(π·(4t − n) / 2n)
        *cos.add(t) = cos_half_pi_frac(4 * t as u64, n as u64) as f32;
        *sin.add(t) = cos_half_pi_frac(((4 * t + 3 * n) % (4 * n)) as u64, n as u64) as f32;
    }
    let rev = scratch::<u32>(n);
    for pos in 0..n {
        let (mut rem, mut span, mut k, mut mult) = (pos, n, 0, 1);
        for f in 0..nf {
            span /= factors[f];
            k += (rem / span) * mult;
            rem %= span;
            mult *= factors[f];
        }
        *rev.add(pos) = k as u32;
    }
    Plan { n, nf, factors, cos, sin, rev, tmp: scratch::<f32>(2 * big * LANES) }
}

#[inline(always)]
unsafe fn ld(p: *const f32) -> v128 {
    v128_load(p as *const v128)
}

#[inline(always)]
unsafe fn st(p: *mut f32, v: v128) {
    v128_store(p as *mut v128, v)
}

/// (ar + i·ai)·(wr + i·wi) with splatted w.
#[inline(always)]
fn cmul(ar: v128, ai: v128, wr: v128, wi: v128) -> (v128, v128) {
    (f32x4_sub(f32x4_mul(ar, wr), f32x4_mul(ai, wi)), f32x4_add(f32x4_mul(ar, wi), f32x4_mul(ai, wr)))
}

/// Store row `o` = y·w (w = 1 when !TW).
#[inline(always)]
unsafe fn put<const TW: bool>(re: *mut f32, im: *mut f32, o: usize, yr: v128, yi: v128, w: (v128, v128)) {
    let (yr, yi) = if TW { cmul(yr, yi, w.0, w.1) } else { (yr, yi) };
    st(re.add(o), yr);
    st(im.add(o), yi);
}

/// The panel (re, im: n rows × LANES) in place → digit-reversed X.
pub unsafe fn run(p: &Plan, re: *mut f32, im: *mut f32) {
    let n = p.n;
    let mut span = n;
    for f in 0..p.nf {
        let r = p.factors[f];
        let (m, stride) = (span / r, n / span); // DIF twiddle ω_span^{jq} = root[j·q·stride] (< n)
        let mut b = 0;
        while b < n {
            for j in 0..m {
                let w = |q: usize| (f32x4_splat(*p.cos.add(j * q * stride)), f32x4_splat(*p.sin.add(j * q * stride)));
                let (i0, s) = ((b + j) * LANES, m * LANES);
                match (r, j == 0) {
                    (4, true) => bf4::<false>(re, im, i0, s, [w(0); 3]),
                    (4, false) => bf4::<true>(re, im, i0, s, [w(1), w(2), w(3)]),
                    (2, true) => bf2::<false>(re, im, i0, s, w(0)),
                    (2, false) => bf2::<true>(re, im, i0, s, w(1)),
                    (3, true) => bf3::<false>(re, im, i0, s, [w(0); 2]),
                    (3, false) => bf3::<true>(re, im, i0, s, [w(1), w(2)]),
                    _ => bfp(p, re, im, i0, s, r, j * stride),
                }
            }
            b += span;
        }
        span = m;
    }
}

/// Radix 4 (ω₄ = i): rows i0 + q·s, q < 4.
#[inline(always)]
unsafe fn bf4<const TW: bool>(re: *mut f32, im: *mut f32, i0: usize, s: usize, w: [(v128, v128); 3]) {
    for v in 0..VECS {
        let o = i0 + 4 * v;
        let (a0r, a0i, a1r, a1i) = (ld(re.add(o)), ld(im.add(o)), ld(re.add(o + s)), ld(im.add(o + s)));
        let (a2r, a2i) = (ld(re.add(o + 2 * s)), ld(im.add(o + 2 * s)));
        let (a3r, a3i) = (ld(re.add(o + 3 * s)), ld(im.add(o + 3 * s)));
        let (t0r, t0i, t1r, t1i) = (f32x4_add(a0r, a2r), f32x4_add(a0i, a2i), f32x4_sub(a0r, a2r), f32x4_sub(a0i, a2i));
        let (t2r, t2i) = (f32x4_add(a1r, a3r), f32x4_add(a1i, a3i));
        let (t3r, t3i) = (f32x4_sub(a3i, a1i), f32x4_sub(a1r, a3r)); // i·(a1 − a3)
        st(re.add(o), f32x4_add(t0r, t2r));
        st(im.add(o), f32x4_add(t0i, t2i));
        put::<TW>(re, im, o + s, f32x4_add(t1r, t3r), f32x4_add(t1i, t3i), w[0]);
        put::<TW>(re, im, o + 2 * s, f32x4_sub(t0r, t2r), f32x4_sub(t0i, t2i), w[1]);
        put::<TW>(re, im, o + 3 * s, f32x4_sub(t1r, t3r), f32x4_sub(t1i, t3i), w[2]);
    }
}

/// Radix 2.
#[inline(always)]
unsafe fn bf2<const TW: bool>(re: *mut f32, im: *mut f32, i0: usize, s: usize, w: (v128, v128)) {
    for v in 0..VECS {
        let o = i0 + 4 * v;
        let (a0r, a0i, a1r, a1i) = (ld(re.add(o)), ld(im.add(o)), ld(re.add(o + s)), ld(im.add(o + s)));
        st(re.add(o), f32x4_add(a0r, a1r));
        st(im.add(o), f32x4_add(a0i, a1i));
        put::<TW>(re, im, o + s, f32x4_sub(a0r, a1r), f32x4_sub(a0i, a1i), w);
    }
}

/// Radix 3 (ω₃ = −1/2 + i·√3/2).
#[inline(always)]
unsafe fn bf3<const TW: bool>(re: *mut f32, im: *mut f32, i0: usize, s: usize, w: [(v128, v128); 2]) {
    let (half, h3) = (f32x4_splat(0.5), f32x4_splat(0.866_025_403_784_438_6));
    for v in 0..VECS {
        let o = i0 + 4 * v;
        let (a0r, a0i, a1r, a1i) = (ld(re.add(o)), ld(im.add(o)), ld(re.add(o + s)), ld(im.add(o + s)));
        let (a2r, a2i) = (ld(re.add(o + 2 * s)), ld(im.add(o + 2 * s)));
        let (sr, si, dr, di) = (f32x4_add(a1r, a2r), f32x4_add(a1i, a2i), f32x4_sub(a1r, a2r), f32x4_sub(a1i, a2i));
        let (mr, mi) = (f32x4_sub(a0r, f32x4_mul(half, sr)), f32x4_sub(a0i, f32x4_mul(half, si)));
        let (er, ei) = (f32x4_mul(h3, di), f32x4_mul(h3, dr)); // i·(√3/2)·d = (−e_r, e_i)
        st(re.add(o), f32x4_add(a0r, sr));
        st(im.add(o), f32x4_add(a0i, si));
        put::<TW>(re, im, o + s, f32x4_sub(mr, er), f32x4_add(mi, ei), w[0]);
        put::<TW>(re, im, o + 2 * s, f32x4_add(mr, er), f32x4_sub(mi, ei), w[1]);
    }
}

/// Generic radix r: y_k = ω_span^{jk}·Σ_q a_q·ω_r^{qk}; `t` = j·stride.
unsafe fn bfp(p: &Plan, re: *mut f32, im: *mut f32, i0: usize, s: usize, r: usize, t: usize) {
    let (tr, ti, step) = (p.tmp, p.tmp.add(r * LANES), p.n / r);
    for q in 0..r {
        core::ptr::copy_nonoverlapping(re.add(i0 + q * s), tr.add(q * LANES), LANES);
        core::ptr::copy_nonoverlapping(im.add(i0 + q * s), ti.add(q * LANES), LANES);
    }
    for k in 0..r {
        let tw = (f32x4_splat(*p.cos.add(t * k)), f32x4_splat(*p.sin.add(t * k)));
        for v in 0..VECS {
            let (mut yr, mut yi) = (f32x4_splat(0.0), f32x4_splat(0.0));
            for q in 0..r {
                let x = (q * k % r) * step;
                let (wr, wi) = (f32x4_splat(*p.cos.add(x)), f32x4_splat(*p.sin.add(x)));
                let (cr, ci) = cmul(ld(tr.add(q * LANES + 4 * v)), ld(ti.add(q * LANES + 4 * v)), wr, wi);
                yr = f32x4_add(yr, cr);
                yi = f32x4_add(yi, ci);
            }
            put::<true>(re, im, i0 + k * s + 4 * v, yr, yi, tw);
        }
    }
}
