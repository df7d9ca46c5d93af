//! Lean reductions over the middle dim of x [outer, red, inner] → out [outer, inner] (SUM 0,
//! MEAN 1, MAX 2), and row softmax / log-softmax over the last dim of [rows, n] (max-subtracted).
//! Sums are pairwise: blocks of 32 rows summed in f32x4 lanes, blocks combined by halving
//! recursion, so a 1e5-long sum keeps ~1e-6 relative error without f64. out may alias x for
//! softmax / log-softmax (each row is read before it is written). Return codes: 0 ok, 1 bad op.
use crate::lean_math::*;
use core::arch::wasm32::*;

/// Pairwise Σ over `rows` rows (row stride `stride` floats) of W vectors f(x[r, 0..4W]).
#[inline(always)]
unsafe fn sum_rows<const W: usize>(p: *const f32, rows: usize, stride: usize, f: &impl Fn(v128) -> v128) -> [v128; W] {
    let mut acc = [f32x4_splat(0.0); W];
    if rows <= 32 {
        for r in 0..rows {
            for w in 0..W {
                acc[w] = f32x4_add(acc[w], f(ld(p.add(r * stride + 4 * w))));
            }
        }
        return acc;
    }
    let h = rows / 2;
    let (a, b) = (sum_rows_rec::<W>(p, h, stride, f), sum_rows_rec::<W>(p.add(h * stride), rows - h, stride, f));
    for w in 0..W {
        acc[w] = f32x4_add(a[w], b[w]);
    }
    acc
}

#[inline(never)]
unsafe fn sum_rows_rec<const W: usize>(p: *const f32, rows: usize, stride: usize, f: &impl Fn(v128) -> v128) -> [v128; W] {
    sum_rows::<W>(p, rows, stride, f)
}

/// Pairwise Σ over `rows` scalars x[r·stride] (the < 4 leftover columns).
unsafe fn sum_scalar(p: *const f32, rows: usize, stride: usize) -> f32 {
    if rows <= 32 {
        let mut s = 0.0;
        for r in 0..rows {
            s += *p.add(r * stride);
        }
        return s;
    }
    let h = rows / 2;
    sum_scalar(p, h, stride) + sum_scalar(p.add(h * stride), rows - h, stride)
}

/// Pairwise Σ f(x[i]) of a contiguous run (16-float rows, then a scalar tail through f).
#[inline(always)]
pub unsafe fn sum_contig(p: *const f32, n: usize, f: &impl Fn(v128) -> v128) -> f32 {
    let full = n / 16;
    let v = sum_rows::<4>(p, full, 16, f);
    let mut s = hsum(f32x4_add(f32x4_add(v[0], v[1]), f32x4_add(v[2], v[3])));
    let mut i = full * 16;
    while i < n {
        let mut t = [0f32; 4];
        let k = if n - i < 4 { n - i } else { 4 };
        for j in 0..k {
            t[j] = *p.add(i + j);
        }
        let y = f(ld(t.as_ptr()));
        let mut ys = [0f32; 4];
        st(ys.as_mut_ptr(), y);
        for j in 0..k {
            s += ys[j];
        }
        i += k;
    }
    s
}

unsafe fn max_contig(p: *const f32, n: usize) -> f32 {
    let mut m = f32x4_splat(f32::NEG_INFINITY);
    let mut i = 0;
    while i + 4 <= n {
        m = f32x4_max(m, ld(p.add(i)));
        i += 4;
    }
    let mut r = hmax(m);
    for j in i..n {
        let v = *p.add(j);
        r = if v > r || v != v { v } else { r };
    }
    r
}

/// out[o, i] = op over r of x[o, r, i].
pub unsafe fn reduce(op: u32, x: *const f32, out: *mut f32, outer: usize, red: usize, inner: usize) -> i32 {
    if op > 2 {
        return 1;
    }
    let id = |v: v128| v;
    for o in 0..outer {
        let (xo, oo) = (x.add(o * red * inner), out.add(o * inner));
        if inner == 1 {
            *oo = match op {
                2 => max_contig(xo, red),
                1 => sum_contig(xo, red, &id) / red as f32,
                _ => sum_contig(xo, red, &id),
            };
            continue;
        }
        let mut i = 0;
        if op == 2 {
            while i + 4 <= inner {
                let mut m = f32x4_splat(f32::NEG_INFINITY);
                for r in 0..red {
                    m = f32x4_max(m, ld(xo.add(r * inner + i)));
                }
                st(oo.add(i), m);
                i += 4;
            }
            for j in i..inner {
                let mut m = f32::NEG_INFINITY;
                for r in 0..red {
                    let v = *xo.add(r * inner + j);
                    m = if v > m || v != v { v } else { m };
                }
                *oo.add(j) = m;
            }
            continue;
        }
        while i + 16 <= inner {
            let v = sum_rows::<4>(xo.add(i), red, inner, &id);
            for w in 0..4 {
                st(oo.add(i + 4 * w), mean_or_sum(v[w], op, red));
            }
            i += 16;
        }
        while i + 4 <= inner {
            let v = sum_rows::<1>(xo.add(i), red, inner, &id);
            st(oo.add(i), mean_or_sum(v[0], op, red));
            i += 4;
        }
        for j in i..inner {
            let s = sum_scalar(xo.add(j), red, inner);
            *oo.add(j) = if op == 1 { s / red as f32 } else { s };
        }
    }
    0
}

#[inline(always)]
fn mean_or_sum(v: v128, op: u32, red: usize) -> v128 {
    if op == 1 { f32x4_div(v, f32x4_splat(red as f32)) } else { v }
}

/// Row softmax: out = e^{x − max} / Σ e^{x − max}.
pub unsafe fn softmax(x: *const f32, out: *mut f32, rows: usize, n: usize) {
    let k = K::load();
    for r in 0..rows {
        let (xr, or) = (x.add(r * n), out.add(r * n));
        let m = splat(max_contig(xr, n));
        let mut i = 0;
        while i + 4 <= n {
            st(or.add(i), k.exp(f32x4_sub(ld(xr.add(i)), m)));
            i += 4;
        }
        for j in i..n {
            let mut t = [0f32; 4];
            t[0] = *xr.add(j);
            *or.add(j) = f32x4_extract_lane::<0>(k.exp(f32x4_sub(ld(t.as_ptr()), m)));
        }
        let inv = splat(1.0 / sum_contig(or, n, &|v| v));
        let mut i = 0;
        while i + 4 <= n {
            st(or.add(i), f32x4_mul(ld(or.add(i)), inv));
            i += 4;
        }
        for j in i..n {
            *or.add(j) *= f32x4_extract_lane::<0>(inv);
        }
    }
}

/// Row log-softmax: out = x − max − ln Σ e^{x − max}.
pub unsafe fn log_softmax(x: *const f32, out: *mut f32, rows: usize, n: usize) {
    let k = K::load();
    for r in 0..rows {
        let (xr, or) = (x.add(r * n), out.add(r * n));
        let mx = max_contig(xr, n);
        let m = splat(mx);
        // lanes past n in the tail are 0 → e^{0 − max}; sum_contig only adds the first k lanes
        let s = sum_contig(xr, n, &|v| k.exp(f32x4_sub(v, m)));
        let ls = f32x4_extract_lane::<0>(log4(splat(s)));
        let lsv = splat(ls);
        let mut i = 0;
        while i + 4 <= n {
            st(or.add(i), f32x4_sub(f32x4_sub(ld(xr.add(i)), m), lsv));
            i += 4;
        }
        for j in i..n {
            *or.add(j) = (*xr.add(j) - mx) - ls;
        }
    }
}
