//! Lean fused RMSNorm, LayerNorm (rows × d, normalised over d) and HF rotate-half RoPE, each with
//! its backward. Per row r = 1/√(mean(x²) + ε) (RMS) or 1/√(var + ε) (LayerNorm, x̂ = (x − μ)r):
//!   RMS: y = x̂·(w + offset), dx = r·(g·w′ − x̂·mean(g·w′·x̂)), dw = Σ_rows g·x̂
//!   LN:  y = x̂·w + b, dx = r·(g·w − mean(g·w) − x̂·mean(g·w·x̂)), dw = Σ g·x̂, db = Σ g
//! Statistics are taken in a first pass, so out / dx may alias x or g. Null output pointers skip.
use crate::lean_math::*;
use crate::lean_reduce::sum_contig;
use core::arch::wasm32::*;

#[inline(always)]
fn rsqrt(x: f32) -> f32 {
    1.0 / f32x4_extract_lane::<0>(f32x4_sqrt(splat(x)))
}

/// 1/√(mean(x²) + ε) of one row.
#[inline(always)]
unsafe fn rms_inv(x: *const f32, d: usize, eps: f32) -> f32 {
    rsqrt(sum_contig(x, d, &|v| f32x4_mul(v, v)) / d as f32 + eps)
}

/// (μ, 1/√(var + ε)) of one row.
#[inline(always)]
unsafe fn ln_stats(x: *const f32, d: usize, eps: f32) -> (f32, f32) {
    let mu = sum_contig(x, d, &|v| v) / d as f32;
    let m = splat(mu);
    let var = sum_contig(x, d, &|v| {
        let c = f32x4_sub(v, m);
        f32x4_mul(c, c)
    }) / d as f32;
    (mu, rsqrt(var + eps))
}

/// y = x·r·(w + offset) per row.
pub unsafe fn rms_norm(x: *const f32, w: *const f32, out: *mut f32, rows: usize, d: usize, eps: f32, offset: f32) {
    for row in 0..rows {
        let (xr, or) = (x.add(row * d), out.add(row * d));
        let r = rms_inv(xr, d, eps);
        for j in 0..d {
            *or.add(j) = *xr.add(j) * r * (*w.add(j) + offset);
        }
    }
}

pub unsafe fn rms_norm_backward(
    g: *const f32, x: *const f32, w: *const f32, dx: *mut f32, dw: *mut f32, rows: usize, d: usize, eps: f32,
    offset: f32, accumulate_dw: bool,
) {
    if !dw.is_null() && !accumulate_dw {
        core::ptr::write_bytes(dw, 0, d);
    }
    for row in 0..rows {
        let (gr, xr) = (g.add(row * d), x.add(row * d));
        let r = rms_inv(xr, d, eps);
        // mean(g·w′·x̂) = r·Σ(g·w′·x)/d
        let mut s = 0.0;
        for j in 0..d {
            let gx = *gr.add(j) * *xr.add(j);
            s += gx * (*w.add(j) + offset);
            if !dw.is_null() {
                *dw.add(j) += gx * r;
            }
        }
        if dx.is_null() {
            continue;
        }
        let c = r * r * s / d as f32;
        let dr = dx.add(row * d);
        for j in 0..d {
            let xv = *xr.add(j);
            *dr.add(j) = r * (*gr.add(j) * (*w.add(j) + offset) - xv * c);
        }
    }
}

/// y = (x − μ)·r·w [+ b] per row.
pub unsafe fn layer_norm(x: *const f32, w: *const f32, b: *const f32, out: *mut f32, rows: usize, d: usize, eps: f32) {
    for row in 0..rows {
        let (xr, or) = (x.add(row * d), out.add(row * d));
        let (mu, r) = ln_stats(xr, d, eps);
        for j in 0..d {
            let y = (*xr.add(j) - mu) * r * *w.add(j);
            *or.add(j) = if b.is_null() { y } else { y + *b.add(j) };
        }
    }
}

pub unsafe fn layer_norm_backward(
    g: *const f32, x: *const f32, w: *const f32, dx: *mut f32, dw: *mut f32, db: *mut f32, rows: usize, d: usize,
    eps: f32, accumulate: bool,
) {
    for p in [dw, db] {
        if !p.is_null() && !accumulate {
            core::ptr::write_bytes(p, 0, d);
        }
    }
    for row in 0..rows {
        let (gr, xr) = (g.add(row * d), x.add(row * d));
        let (mu, r) = ln_stats(xr, d, eps);
        let (mut sg, mut sgx) = (0.0, 0.0);
        for j in 0..d {
            let (gv, xh) = (*gr.add(j), (*xr.add(j) - mu) * r);
            let gw = gv * *w.add(j);
            sg += gw;
            sgx += gw * xh;
            if !dw.is_null() {
                *dw.add(j) += gv * xh;
            }
            if !db.is_null() {
                *db.add(j) += gv;
            }
        }
        if dx.is_null() {
            continue;
        }
        let (mg, mgx) = (sg / d as f32, sgx / d as f32);
        let dr = dx.add(row * d);
        for j in 0..d {
            let xh = (*xr.add(j) - mu) * r;
            *dr.add(j) = r * (*gr.add(j) * *w.add(j) - mg - xh * mgx);
        }
    }
}

/// RoPE over x/out (B,H,T,E) with tables (B,T,E) or (T,E): y₁ = x₁c₁ − x₂s₁, y₂ = x₂c₂ + x₁s₂
/// (halves of E). `backward`: the exact transpose, dx₁ = g₁c₁ + g₂s₂, dx₂ = g₂c₂ − g₁s₁, which is
/// rope(g, cos, −sin) whenever the tables repeat their first half (HF's emb = concat(f, f)).
pub unsafe fn rope(
    x: *const f32, cos: *const f32, sin: *const f32, out: *mut f32, b: usize, h: usize, t: usize, e: usize,
    per_batch: bool, backward: bool,
) {
    let half = e / 2;
    for bi in 0..b {
        let tab = if per_batch { bi * t * e } else { 0 };
        for hi in 0..h {
            for ti in 0..t {
                let row = ((bi * h + hi) * t + ti) * e;
                let (xr, or) = (x.add(row), out.add(row));
                let (c, s) = (cos.add(tab + ti * e), sin.add(tab + ti * e));
                let mut j = 0;
                while j + 4 <= half {
                    let (x1, x2) = (ld(xr.add(j)), ld(xr.add(j + half)));
                    let (c1, c2, s1, s2) = (ld(c.add(j)), ld(c.add(j + half)), ld(s.add(j)), ld(s.add(j + half)));
                    let (y1, y2) = if backward {
                        (madd(f32x4_mul(x1, c1), x2, s2), f32x4_sub(f32x4_mul(x2, c2), f32x4_mul(x1, s1)))
                    } else {
                        (f32x4_sub(f32x4_mul(x1, c1), f32x4_mul(x2, s1)), madd(f32x4_mul(x2, c2), x1, s2))
                    };
                    st(or.add(j), y1);
                    st(or.add(j + half), y2);
                    j += 4;
                }
                for k in j..half {
                    let (x1, x2) = (*xr.add(k), *xr.add(k + half));
                    let (c1, c2, s1, s2) = (*c.add(k), *c.add(k + half), *s.add(k), *s.add(k + half));
                    let (y1, y2) =
                        if backward { (x1 * c1 + x2 * s2, x2 * c2 - x1 * s1) } else { (x1 * c1 - x2 * s1, x2 * c2 + x1 * s2) };
                    *or.add(k) = y1;
                    *or.add(k + half) = y2;
                }
            }
        }
    }
}
