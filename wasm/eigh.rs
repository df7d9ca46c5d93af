//! Symmetric eigendecomposition (Householder tridiagonalization + implicit QL, the EISPACK
//! tred2/tql2 pair as in JAMA). All f64 internally. The work matrix holds Vᵀ (row j = column j
//! of JAMA's V), so every inner loop runs along contiguous rows. Mirrors src/linalg/eigh.ts.
use crate::math::{abs64, axpy64, dot64, hypot, rot64, sqrt64};
use crate::scratch;

/// w (n, ascending) and q (n×n, column j = eigenvector j) of sym(a); 0, or 1 if QL failed.
pub unsafe fn eigh_sym(a: *const f32, n: usize, w: *mut f32, q: *mut f32) -> i32 {
    let vt = scratch::<f64>(n * n);
    let (d, e) = (scratch::<f64>(n), scratch::<f64>(n));
    for i in 0..n {
        for j in 0..n {
            *vt.add(i * n + j) = 0.5 * (*a.add(i * n + j) as f64 + *a.add(j * n + i) as f64);
        }
    }
    tred2(vt, d, e, n);
    let ok = tql2(vt, d, e, n);
    // ascending, ties to the lower index (as the TS mirror)
    let order = scratch::<u32>(n);
    for j in 0..n {
        *order.add(j) = j as u32;
    }
    let ord = core::slice::from_raw_parts_mut(order, n);
    ord.sort_unstable_by(|&x, &y| {
        let (dx, dy) = (*d.add(x as usize), *d.add(y as usize));
        dx.partial_cmp(&dy).unwrap_or(core::cmp::Ordering::Equal).then(x.cmp(&y))
    });
    for j in 0..n {
        let o = ord[j] as usize;
        *w.add(j) = *d.add(o) as f32;
        let row = vt.add(o * n);
        let (mut best, mut at) = (-1.0f64, 0);
        for k in 0..n {
            if abs64(*row.add(k)) > best {
                best = abs64(*row.add(k));
                at = k;
            }
        }
        let sign = if *row.add(at) < 0.0 { -1.0 } else { 1.0 };
        for k in 0..n {
            *q.add(k * n + j) = (sign * *row.add(k)) as f32;
        }
    }
    if ok {
        0
    } else {
        1
    }
}

/// Householder reduction to tridiagonal form; vt holds Vᵀ in and out (JAMA tred2).
unsafe fn tred2(vt: *mut f64, d: *mut f64, e: *mut f64, n: usize) {
    let at = |r: usize, c: usize| vt.add(r * n + c);
    for j in 0..n {
        *d.add(j) = *at(j, n - 1);
    }
    for i in (1..n).rev() {
        let mut scale = 0.0;
        let mut h = 0.0;
        for k in 0..i {
            scale += abs64(*d.add(k));
        }
        if scale == 0.0 {
            *e.add(i) = *d.add(i - 1);
            for j in 0..i {
                *d.add(j) = *at(j, i - 1);
                *at(j, i) = 0.0;
                *at(i, j) = 0.0;
            }
        } else {
            for k in 0..i {
                *d.add(k) /= scale;
                h += *d.add(k) * *d.add(k);
            }
            let mut f = *d.add(i - 1);
            let mut g = sqrt64(h);
            if f > 0.0 {
                g = -g;
            }
            *e.add(i) = scale * g;
            h -= f * g;
            *d.add(i - 1) = f - g;
            core::ptr::write_bytes(e, 0, i);
            for j in 0..i {
                f = *d.add(j);
                *at(i, j) = f;
                g = *e.add(j) + *at(j, j) * f;
                let row = at(j, 0);
                if j + 1 < i {
                    g += dot64(row.add(j + 1), d.add(j + 1), i - j - 1);
                    axpy64(f, row.add(j + 1), e.add(j + 1), i - j - 1);
                }
                *e.add(j) = g;
            }
            f = 0.0;
            for j in 0..i {
                *e.add(j) /= h;
                f += *e.add(j) * *d.add(j);
            }
            let hh = f / (h + h);
            axpy64(-hh, d, e, i);
            for j in 0..i {
                f = *d.add(j);
                g = *e.add(j);
                let row = at(j, 0);
                axpy64(-f, e.add(j), row.add(j), i - j);
                axpy64(-g, d.add(j), row.add(j), i - j);
                *d.add(j) = *at(j, i - 1);
                *at(j, i) = 0.0;
            }
        }
        *d.add(i) = h;
    }
    // accumulate transformations
    for i in 0..n - 1 {
        *at(i, n - 1) = *at(i, i);
        *at(i, i) = 1.0;
        let h = *d.add(i + 1);
        let next = at(i + 1, 0);
        if h != 0.0 {
            for k in 0..=i {
                *d.add(k) = *next.add(k) / h;
            }
            for j in 0..=i {
                let row = at(j, 0);
                let g = dot64(next, row, i + 1);
                axpy64(-g, d, row, i + 1);
            }
        }
        core::ptr::write_bytes(next, 0, i + 1);
    }
    for j in 0..n {
        *d.add(j) = *at(j, n - 1);
        *at(j, n - 1) = 0.0;
    }
    *at(n - 1, n - 1) = 1.0;
    *e = 0.0;
}

/// Implicit QL on the tridiagonal (d, e), rotating rows of vt (JAMA tql2, unsorted).
unsafe fn tql2(vt: *mut f64, d: *mut f64, e: *mut f64, n: usize) -> bool {
    for i in 1..n {
        *e.add(i - 1) = *e.add(i);
    }
    *e.add(n - 1) = 0.0;
    let eps = f64::EPSILON;
    let (mut f, mut tst1) = (0.0f64, 0.0f64);
    let mut ok = true;
    for l in 0..n {
        let t = abs64(*d.add(l)) + abs64(*e.add(l));
        if t > tst1 {
            tst1 = t;
        }
        let mut m = l;
        while m < n - 1 && !(abs64(*e.add(m)) <= eps * tst1) {
            m += 1;
        }
        if m > l {
            let mut iter = 0;
            loop {
                iter += 1;
                let mut g = *d.add(l);
                let mut p = (*d.add(l + 1) - g) / (2.0 * *e.add(l));
                let mut r = hypot(p, 1.0);
                if p < 0.0 {
                    r = -r;
                }
                *d.add(l) = *e.add(l) / (p + r);
                *d.add(l + 1) = *e.add(l) * (p + r);
                let dl1 = *d.add(l + 1);
                let mut h = g - *d.add(l);
                for i in l + 2..n {
                    *d.add(i) -= h;
                }
                f += h;
                p = *d.add(m);
                let (mut c, mut c2, mut c3) = (1.0f64, 1.0f64, 1.0f64);
                let el1 = *e.add(l + 1);
                let (mut s, mut s2) = (0.0f64, 0.0f64);
                let mut i = m;
                while i > l {
                    i -= 1;
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * *e.add(i);
                    h = c * p;
                    r = hypot(p, *e.add(i));
                    *e.add(i + 1) = s * r;
                    s = *e.add(i) / r;
                    c = p / r;
                    p = c * *d.add(i) - s * g;
                    *d.add(i + 1) = h + s * (c * g + s * *d.add(i));
                    // (v_i, v_{i+1}) ← (c v_i − s v_{i+1}, s v_i + c v_{i+1})
                    rot64(vt.add(i * n), vt.add((i + 1) * n), n, c, s);
                }
                p = -s * s2 * c3 * el1 * *e.add(l) / dl1;
                *e.add(l) = s * p;
                *d.add(l) = c * p;
                if !(abs64(*e.add(l)) > eps * tst1) {
                    break;
                }
                if iter >= 64 {
                    ok = false;
                    break;
                }
            }
        }
        *d.add(l) += f;
        *e.add(l) = 0.0;
    }
    ok
}
