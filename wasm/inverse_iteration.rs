//! Eigenvectors of a symmetric tridiagonal T for given eigenvalues by inverse iteration, as
//! LAPACK's dstein: LU of T − λI with partial pivoting (dgttrf; pivots below ε‖T‖₁ raised to it
//! and kept as reciprocals), 2 solves from a uniform start (stream `stream` of `seed`; for an
//! eigenvalue accurate to ε‖T‖ one solve already amplifies its vector by ~1/ε over any other
//! more than 1e-3‖T‖ away, the second settles the rest), each followed by Gram-Schmidt twice
//! against the earlier vectors of its cluster (eigenvalues within 1e-3‖T‖₁ of their predecessor,
//! dstein's ORTOL), so close and repeated eigenvalues still get orthonormal vectors. Solutions are
//! rescaled when an entry passes 2⁶⁰⁰. Mirrors src/linalg/inverse_iteration.ts.
use crate::math::{abs64, axpy64, dot64, sqrt64, stream_state, uniform_pm1};
use crate::scratch;

const EPS: f64 = f64::EPSILON;
const ORTOL: f64 = 1e-3;
const ITERS: usize = 2;
const BIG: f64 = 4.149515568880993e180; // 2^600

/// LU factors of T − λI (dgttrf): U's diagonal as reciprocals dd, its superdiagonals du, du2;
/// multipliers dl; row swaps.
struct Lu {
    n: usize,
    dd: *mut f64,
    dl: *mut f64,
    du: *mut f64,
    du2: *mut f64,
    swap: *mut u8,
}

impl Lu {
    unsafe fn new(n: usize) -> Lu {
        Lu { n, dd: scratch(n), dl: scratch(n), du: scratch(n), du2: scratch(n), swap: scratch(n) }
    }

    unsafe fn factor(&self, d: *const f64, e: *const f64, lam: f64, tiny: f64) {
        let (n, dd, dl, du, du2, swap) = (self.n, self.dd, self.dl, self.du, self.du2, self.swap);
        for i in 0..n {
            *dd.add(i) = *d.add(i) - lam;
            *dl.add(i) = *e.add(i);
            *du.add(i) = *e.add(i);
            *du2.add(i) = 0.0;
            *swap.add(i) = 0;
        }
        for i in 0..n - 1 {
            if abs64(*dd.add(i)) >= abs64(*dl.add(i)) {
                let fact = if *dd.add(i) != 0.0 { *dl.add(i) / *dd.add(i) } else { 0.0 };
                *dl.add(i) = fact;
                *dd.add(i + 1) -= fact * *du.add(i);
            } else {
                let fact = *dd.add(i) / *dl.add(i);
                *dd.add(i) = *dl.add(i);
                *dl.add(i) = fact;
                let temp = *du.add(i);
                *du.add(i) = *dd.add(i + 1);
                *dd.add(i + 1) = temp - fact * *dd.add(i + 1);
                if i + 2 < n {
                    *du2.add(i) = *du.add(i + 1);
                    *du.add(i + 1) = -fact * *du.add(i + 1);
                }
                *swap.add(i) = 1;
            }
        }
        for i in 0..n {
            let x = *dd.add(i);
            *dd.add(i) = 1.0 / if abs64(x) >= tiny { x } else if x < 0.0 { -tiny } else { tiny };
        }
    }

    /// b ← (T − λI)⁻¹ b (dgttrs), rescaled by 2⁻⁶⁰⁰ whenever an entry passes 2⁶⁰⁰.
    unsafe fn solve(&self, b: *mut f64) {
        let (n, dd, dl, du, du2, swap) = (self.n, self.dd, self.dl, self.du, self.du2, self.swap);
        for i in 0..n - 1 {
            if *swap.add(i) != 0 {
                let t = *b.add(i);
                *b.add(i) = *b.add(i + 1);
                *b.add(i + 1) = t - *dl.add(i) * *b.add(i);
            } else {
                *b.add(i + 1) -= *dl.add(i) * *b.add(i);
            }
        }
        let mut i = n;
        while i > 0 {
            i -= 1;
            let mut s = *b.add(i);
            if i + 1 < n {
                s -= *du.add(i) * *b.add(i + 1);
            }
            if i + 2 < n {
                s -= *du2.add(i) * *b.add(i + 2);
            }
            *b.add(i) = s * *dd.add(i);
            if abs64(*b.add(i)) > BIG {
                for t in 0..n {
                    *b.add(t) /= BIG;
                }
            }
        }
    }
}

/// z (n×r, column j) = eigenvectors of T (‖T‖₁ = norm) for lams[0..r] (descending), by inverse
/// iteration.
pub unsafe fn inverse_iteration(
    d: *const f64, e: *const f64, n: usize, norm: f64, lams: *const f64, r: usize, seed: u32, stream: u32,
    z: *mut f64,
) {
    core::ptr::write_bytes(z, 0, n * r);
    let mut st = stream_state(seed, stream);
    if norm == 0.0 {
        for j in 0..r {
            *z.add(j * r + j) = 1.0;
        }
        return;
    }
    let lu = Lu::new(n);
    let (rows, b) = (scratch::<f64>(r * n), scratch::<f64>(n));
    let (tiny, ortol) = (EPS * norm, ORTOL * norm);
    let (mut start, mut prev) = (0usize, 0.0f64);
    for j in 0..r {
        let mut lam = *lams.add(j);
        if j > 0 {
            if prev - lam > ortol {
                start = j;
            }
            if prev - lam < 10.0 * EPS * abs64(lam) {
                lam = prev - 10.0 * EPS * abs64(lam);
            }
        }
        prev = lam;
        lu.factor(d, e, lam, tiny);
        for t in 0..n {
            *b.add(t) = uniform_pm1(&mut st) as f64;
        }
        for _ in 0..ITERS {
            lu.solve(b);
            for _ in 0..2 {
                for i in start..j {
                    let q = rows.add(i * n);
                    axpy64(-dot64(b, q, n), q, b, n);
                }
            }
            let s = dot64(b, b, n);
            let inv = if s > 0.0 { 1.0 / sqrt64(s) } else { 0.0 };
            for t in 0..n {
                *b.add(t) *= inv;
            }
        }
        core::ptr::copy_nonoverlapping(b, rows.add(j * n), n);
    }
    for j in 0..r {
        for t in 0..n {
            *z.add(t * r + j) = *rows.add(j * n + t);
        }
    }
}
