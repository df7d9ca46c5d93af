//! Randomized top-r SVD: Halko, Martinsson & Tropp 2011, Alg. 4.4 (randomized subspace iteration,
//! QR re-orthonormalization after every product), then an exact small SVD: Bᵀ = Aᵀ Q₁ = Q₂ R (QR)
//! and one-sided Jacobi (Hestenes) on R in f64, so A ≈ (Q₁ V_R) Σ (Q₂ U_R)ᵀ. Test matrix Ω: uniform
//! [-1, 1) from stream 0 of `seed`; QR fills use streams 1, 2, … in call order (as the TS mirror
//! src/linalg/svd.ts). Big products are f32 SIMD GEMMs; QR and Jacobi are f64. Sign convention:
//! each left singular vector's largest-magnitude entry is positive.
use crate::gemm::gemm;
use crate::math::{abs32, abs64, dot64, rot64, sqrt64, stream_state, uniform_pm1};
use crate::qr::{orth_f32, orth_rows, to_rows};
use crate::scratch;

/// u (m×r), s (r), vt (r×n) ≈ top-r SVD of a (m×n); requires 1 ≤ r ≤ min(m, n).
pub unsafe fn svd_top_r(
    a: *const f32, m: usize, n: usize, r: usize, oversample: usize, power_iters: usize, seed: u32,
    u: *mut f32, s: *mut f32, vt: *mut f32,
) {
    let small = if m < n { m } else { n };
    let kk = if r + oversample < small { r + oversample } else { small };
    let big = if m > n { m } else { n };
    let omega = scratch::<f32>(n * kk);
    let mut st = stream_state(seed, 0);
    for i in 0..n * kk {
        *omega.add(i) = uniform_pm1(&mut st);
    }
    let (y, q1) = (scratch::<f32>(m * kk), scratch::<f32>(m * kk));
    let (z, q2) = (scratch::<f32>(n * kk), scratch::<f32>(n * kk));
    let work = scratch::<f64>(big * kk);
    // Y = A Ω, Q₁ = orth(Y); then q times: Q₂ = orth(Aᵀ Q₁), Q₁ = orth(A Q₂)
    gemm(m, kk, n, a, n, 1, omega, kk, y, kk, false);
    orth_f32(y, m, kk, q1, seed, 1, work);
    let mut stream = 2;
    for _ in 0..power_iters {
        gemm(n, kk, m, a, 1, n, q1, kk, z, kk, false);
        orth_f32(z, n, kk, q2, seed, stream, work);
        gemm(m, kk, n, a, n, 1, q2, kk, y, kk, false);
        orth_f32(y, m, kk, q1, seed, stream + 1, work);
        stream += 2;
    }
    // Bᵀ = Aᵀ Q₁ (n×kk) = Q₂ R; rows of `work` become Q₂ᵀ (kk×n)
    gemm(n, kk, m, a, 1, n, q1, kk, z, kk, false);
    to_rows(z, n, kk, work);
    let rr = scratch::<f64>(kk * kk);
    orth_rows(work, n, kk, rr, seed, stream);
    // Jacobi on the columns of R (rows of rt), accumulating V_R (rows of vrt)
    let (rt, vrt) = (scratch::<f64>(kk * kk), scratch::<f64>(kk * kk));
    for i in 0..kk {
        for j in 0..kk {
            *rt.add(j * kk + i) = *rr.add(i * kk + j);
            *vrt.add(i * kk + j) = if i == j { 1.0 } else { 0.0 };
        }
    }
    jacobi(rt, vrt, kk);
    let sigma = scratch::<f64>(kk);
    let order = scratch::<u32>(kk);
    for j in 0..kk {
        *sigma.add(j) = sqrt64(dot64(rt.add(j * kk), rt.add(j * kk), kk));
        *order.add(j) = j as u32;
    }
    let ord = core::slice::from_raw_parts_mut(order, kk);
    ord.sort_unstable_by(|&x, &y| {
        let (sx, sy) = (*sigma.add(x as usize), *sigma.add(y as usize));
        sy.partial_cmp(&sx).unwrap_or(core::cmp::Ordering::Equal).then(x.cmp(&y))
    });
    // U_R columns (rows of usel) in σ order, cleaned by one more QR pass
    let usel = scratch::<f64>(r * kk);
    for j in 0..r {
        let o = ord[j] as usize;
        let sg = *sigma.add(o);
        let inv = if sg > 0.0 { 1.0 / sg } else { 0.0 };
        for p in 0..kk {
            *usel.add(j * kk + p) = *rt.add(o * kk + p) * inv;
        }
        *s.add(j) = sg as f32;
    }
    orth_rows(usel, kk, r, core::ptr::null_mut(), seed, stream + 1);
    // U = Q₁ V_R[:, ord] ; Vt = U_R[:, ord]ᵀ Q₂ᵀ
    let vsel = scratch::<f32>(kk * r);
    for j in 0..r {
        let o = ord[j] as usize;
        for p in 0..kk {
            *vsel.add(p * r + j) = *vrt.add(o * kk + p) as f32;
        }
    }
    gemm(m, r, kk, q1, kk, 1, vsel, r, u, r, false);
    let (us32, q2t) = (scratch::<f32>(r * kk), scratch::<f32>(kk * n));
    for i in 0..r * kk {
        *us32.add(i) = *usel.add(i) as f32;
    }
    for i in 0..kk * n {
        *q2t.add(i) = *work.add(i) as f32;
    }
    gemm(r, n, kk, us32, kk, 1, q2t, n, vt, n, false);
    for j in 0..r {
        let (mut best, mut at) = (-1.0f32, 0);
        for i in 0..m {
            let x = abs32(*u.add(i * r + j));
            if x > best {
                best = x;
                at = i;
            }
        }
        if *u.add(at * r + j) < 0.0 {
            for i in 0..m {
                *u.add(i * r + j) = -*u.add(i * r + j);
            }
            for i in 0..n {
                *vt.add(j * n + i) = -*vt.add(j * n + i);
            }
        }
    }
}

/// One-sided Jacobi: rotate pairs of rows of w (k×k) until mutually orthogonal (|cos| ≤ 1e-15),
/// applying the same rotations to the rows of v.
pub unsafe fn jacobi(w: *mut f64, v: *mut f64, k: usize) {
    for _sweep in 0..60 {
        let mut rotated = false;
        for p in 0..k {
            for q in p + 1..k {
                let (wp, wq) = (w.add(p * k), w.add(q * k));
                let alpha = dot64(wp, wp, k);
                let beta = dot64(wq, wq, k);
                let gamma = dot64(wp, wq, k);
                if !(abs64(gamma) > 1e-15 * sqrt64(alpha) * sqrt64(beta)) {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let sgn = if zeta < 0.0 { -1.0 } else { 1.0 };
                let t = sgn / (abs64(zeta) + sqrt64(1.0 + zeta * zeta));
                let c = 1.0 / sqrt64(1.0 + t * t);
                let sn = c * t;
                rot64(wp, wq, k, c, sn);
                rot64(v.add(p * k), v.add(q * k), k, c, sn);
            }
        }
        if !rotated {
            break;
        }
    }
}
