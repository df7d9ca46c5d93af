//! Fast DCT selection (dct.rs `dct_top_r` for Q = the DCT basis itself) in O(m·n·log N): the rows
//! of S = G·Q (right) and the columns of S = Qᵀ·G (left) are orthonormal DCT-IIIs Cᵀx of the rows /
//! columns of G, computed by Makhoul's inverse (J. Makhoul 1980, "A fast cosine transform in one
//! and two dimensions", IEEE TASSP 28(1)): V[k] = e^{iπk/2N}·(X[k] − i·X[N−k]) with X = x ⊘ (N·w),
//! v = IDFT(V) real, y[2j] = v[j], y[2j+1] = v[N−1−j]. Two real vectors share one complex FFT
//! (V₁ + i·V₂), and a panel holds W = 2·LANES vectors (fft.rs): W columns of G (left) or W rows
//! of G transposed into a stage (right). S is kept as N×ld (row k = frequency k, column = vector),
//! so scores are row sums and S[:, idx] / S[idx, :] are plain copies.
//! Mirrors src/linalg/dct_fft.ts.
use crate::dct::top_scores;
use crate::fft::{self, Plan, LANES, VECS};
use crate::math::{cos_half_pi_frac, sqrt64};
use crate::scratch;
use core::arch::wasm32::*;

/// Vectors per panel: lanes of v₁ (columns c0..c0+LANES) and of v₂ (the next LANES).
const W: usize = 2 * LANES;

#[inline(always)]
unsafe fn ld(p: *const f32) -> v128 {
    v128_load(p as *const v128)
}

#[inline(always)]
unsafe fn st(p: *mut f32, v: v128) {
    v128_store(p as *mut v128, v)
}

/// idx/scores (r) and S[:, idx] (m×r, side 0) or S[idx, :] (r×n, side 1) with Q = dct_basis(N).
pub unsafe fn dct_top_r_fft(
    g: *const f32, m: usize, n: usize, side: u32, r: usize, norm: u32, idx: *mut i32, scores: *mut f32,
    proj: *mut f32,
) {
    let right = side == 0;
    let (size, count) = if right { (n, m) } else { (m, n) };
    // S row stride: whole panels, + 16 floats so rows 4 KiB·j apart do not share cache sets
    let ld_s = (count + W - 1) / W * W + 16;
    let s = scratch::<f32>(size * ld_s);
    let plan = fft::plan(size);
    // Makhoul pre-twiddle per k, with 1/(N·w_k) folded in: (c·s_k, sin·s_k, c·s_{N−k}, sin·s_{N−k})
    let tw = scratch::<f32>(4 * size);
    for k in 0..size {
        let sc = |k: usize| 1.0 / sqrt64(((if k == 0 { 1 } else { 2 }) * size) as f64);
        let (c, sn) = (cos_half_pi_frac(k as u64, size as u64), cos_half_pi_frac((size - k) as u64, size as u64));
        let (a, b) = (sc(k), if k == 0 { 0.0 } else { sc(size - k) });
        for (i, x) in [c * a, sn * a, c * b, sn * b].iter().enumerate() {
            *tw.add(4 * k + i) = *x as f32;
        }
    }
    // transformed row p holds v[rev[p]], which is y[perm[rev[p]]] (evens ascending, odds descending)
    let orow = scratch::<u32>(size);
    for p in 0..size {
        let j = *plan.rev.add(p) as usize;
        *orow.add(p) = (if 2 * j < size { 2 * j } else { 2 * (size - 1 - j) + 1 }) as u32;
    }
    let acc = scratch::<f64>(2 * size);
    core::ptr::write_bytes(acc, 0, 2 * size);
    let (re, im) = (scratch::<f32>(size * LANES), scratch::<f32>(size * LANES));
    let stage = scratch::<f32>(size * W);
    let mut c0 = 0;
    while c0 < count {
        let valid = if count - c0 < W { count - c0 } else { W };
        if right || valid < W {
            // rows c0.. of G transposed, or the last columns of G; zero-padded to W vectors
            if valid < W {
                core::ptr::write_bytes(stage, 0, size * W);
            }
            if right {
                transpose_rows(g.add(c0 * n), valid, n, stage);
            } else {
                for k in 0..size {
                    core::ptr::copy_nonoverlapping(g.add(k * n + c0), stage.add(k * W), valid);
                }
            }
            pretwiddle(&plan, stage, W, tw, re, im);
        } else {
            pretwiddle(&plan, g.add(c0), n, tw, re, im);
        }
        fft::run(&plan, re, im);
        store(&plan, re, im, orow, s.add(c0), ld_s, acc, valid, norm == 2);
        c0 += W;
    }
    let tot = scratch::<f64>(size);
    for k in 0..size {
        *tot.add(k) = *acc.add(2 * k) + *acc.add(2 * k + 1);
    }
    top_scores(tot, size, r, norm == 2, idx, scores);
    for j in 0..r {
        let row = s.add(*idx.add(j) as usize * ld_s);
        if right {
            for i in 0..m {
                *proj.add(i * r + j) = *row.add(i);
            }
        } else {
            core::ptr::copy_nonoverlapping(row, proj.add(j * n), n);
        }
    }
}

/// stage (n×W) columns [0, rows) = rows [0, rows) of `g` (row length n); 4×4 SIMD tiles.
unsafe fn transpose_rows(g: *const f32, rows: usize, n: usize, stage: *mut f32) {
    let (r4, n4) = (rows / 4 * 4, n / 4 * 4);
    let mut i = 0;
    while i < r4 {
        let mut j = 0;
        while j < n4 {
            let p = g.add(i * n + j);
            let (r0, r1, r2, r3) = (ld(p), ld(p.add(n)), ld(p.add(2 * n)), ld(p.add(3 * n)));
            let (t0, t1) = (i32x4_shuffle::<0, 4, 1, 5>(r0, r1), i32x4_shuffle::<2, 6, 3, 7>(r0, r1));
            let (t2, t3) = (i32x4_shuffle::<0, 4, 1, 5>(r2, r3), i32x4_shuffle::<2, 6, 3, 7>(r2, r3));
            let q = stage.add(j * W + i);
            st(q, i32x4_shuffle::<0, 1, 4, 5>(t0, t2));
            st(q.add(W), i32x4_shuffle::<2, 3, 6, 7>(t0, t2));
            st(q.add(2 * W), i32x4_shuffle::<0, 1, 4, 5>(t1, t3));
            st(q.add(3 * W), i32x4_shuffle::<2, 3, 6, 7>(t1, t3));
            j += 4;
        }
        i += 4;
    }
    for i in 0..rows {
        for j in (if i < r4 { n4 } else { 0 })..n {
            *stage.add(j * W + i) = *g.add(i * n + j);
        }
    }
}

/// Panel rows k = e^{iπk/2N}·(P + i·Q), P = X₁[k] + X₂[N−k], Q = X₂[k] − X₁[N−k]; x₁ = columns
/// [0, LANES) and x₂ = [LANES, W) of `x` (row stride `lx`).
unsafe fn pretwiddle(p: &Plan, x: *const f32, lx: usize, tw: *const f32, re: *mut f32, im: *mut f32) {
    let n = p.n;
    let s0 = f32x4_splat(*tw);
    for v in 0..VECS {
        st(re.add(4 * v), f32x4_mul(s0, ld(x.add(4 * v))));
        st(im.add(4 * v), f32x4_mul(s0, ld(x.add(LANES + 4 * v))));
    }
    for k in 1..n {
        let (a, b) = (f32x4_splat(*tw.add(4 * k)), f32x4_splat(*tw.add(4 * k + 1)));
        let (c, d) = (f32x4_splat(*tw.add(4 * k + 2)), f32x4_splat(*tw.add(4 * k + 3)));
        let (xk, xn, o) = (x.add(k * lx), x.add((n - k) * lx), k * LANES);
        for v in 0..VECS {
            let (x1k, x2k) = (ld(xk.add(4 * v)), ld(xk.add(LANES + 4 * v)));
            let (x1n, x2n) = (ld(xn.add(4 * v)), ld(xn.add(LANES + 4 * v)));
            // re = cos·P − sin·Q = a·x₁[k] − b·x₂[k] + d·x₁[N−k] + c·x₂[N−k]
            let (r0, r1) = (f32x4_sub(f32x4_mul(a, x1k), f32x4_mul(b, x2k)), f32x4_add(f32x4_mul(d, x1n), f32x4_mul(c, x2n)));
            // im = sin·P + cos·Q = b·x₁[k] + a·x₂[k] + d·x₂[N−k] − c·x₁[N−k]
            let (i0, i1) = (f32x4_add(f32x4_mul(b, x1k), f32x4_mul(a, x2k)), f32x4_sub(f32x4_mul(d, x2n), f32x4_mul(c, x1n)));
            st(re.add(o + 4 * v), f32x4_add(r0, r1));
            st(im.add(o + 4 * v), f32x4_add(i0, i1));
        }
    }
}

/// S[orow[p], 0..W) = (Re, Im) of transformed row p; acc[2k..2k+2] += Σ |·| (or ·²) over the
/// first `valid` vectors.
unsafe fn store(
    p: &Plan, re: *const f32, im: *const f32, orow: *const u32, s: *mut f32, ld_s: usize, acc: *mut f64,
    valid: usize, l2: bool,
) {
    let mut mask = [i32x4_splat(0); 2 * VECS];
    for (v, mk) in mask.iter_mut().enumerate() {
        let l = 4 * v as i32 - valid as i32; // lane i valid ⇔ 4v + i < valid
        *mk = i32x4_lt(i32x4(l, l + 1, l + 2, l + 3), i32x4_splat(0));
    }
    for pos in 0..p.n {
        let k = *orow.add(pos) as usize;
        let (dst, o) = (s.add(k * ld_s), pos * LANES);
        let mut sum = f64x2_splat(0.0);
        for v in 0..2 * VECS {
            let x = if v < VECS { ld(re.add(o + 4 * v)) } else { ld(im.add(o + 4 * (v - VECS))) };
            st(dst.add(4 * v), x);
            let y = v128_and(if l2 { f32x4_mul(x, x) } else { f32x4_abs(x) }, mask[v]);
            sum = f64x2_add(sum, f64x2_promote_low_f32x4(y));
            sum = f64x2_add(sum, f64x2_promote_low_f32x4(i32x4_shuffle::<2, 3, 2, 3>(y, y)));
        }
        let a = acc.add(2 * k) as *mut v128;
        v128_store(a, f64x2_add(v128_load(a), sum));
    }
}
