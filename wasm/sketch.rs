//! Sparse sign sketch Y = AΩ (Ω n×k, row p holding ζ = min(8, k) entries ±1 in distinct columns):
//! the sparse sign embedding of Martinsson & Tropp, "Randomized numerical linear algebra"
//! (Acta Numerica 2020, §9.2; ζ = 8 is their recommended sparsity), as the range finder's test
//! matrix. It costs m·n·ζ multiply-adds instead of a dense sketch's m·n·k, and the power
//! iterations that follow wash out any difference in sketch quality. Columns and signs come from
//! stream 0 of `seed` (column = ⌊(x ≫ 8)·k / 2²⁴⌋ redrawn until distinct within the row, sign =
//! top bit of the next draw). Yᵀ is accumulated four rows of A at a time in f32x4 lanes, then
//! transposed. Mirrors src/linalg/sketch.ts.
use crate::math::{stream_state, xorshift};
use crate::scratch;
use core::arch::wasm32::*;

/// Nonzeros per row of Ω.
pub const ZETA: usize = 8;

/// y (m×k) = a (m×n) · Ω, Ω the sparse sign matrix of `seed`.
pub unsafe fn sparse_sign_sketch(a: *const f32, m: usize, n: usize, k: usize, seed: u32, y: *mut f32) {
    let z = if k < ZETA { k } else { ZETA };
    let (cols, signs) = (scratch::<u32>(n * z), scratch::<f32>(n * z));
    let mut st = stream_state(seed, 0);
    for p in 0..n {
        for t in 0..z {
            let c = loop {
                let c = (((xorshift(&mut st) >> 8) as u64 * k as u64) >> 24) as u32;
                if !(0..t).any(|u| *cols.add(p * z + u) == c) {
                    break c;
                }
            };
            *cols.add(p * z + t) = c;
            *signs.add(p * z + t) = if xorshift(&mut st) >> 31 == 1 { -1.0 } else { 1.0 };
        }
    }
    // Yᵀ rows padded by 16 floats: a row stride that is a multiple of 4 KiB would put all of a
    // step's k rows in one L1 set
    let ld = m + 16;
    let yt = scratch::<f32>(k * ld);
    core::ptr::write_bytes(yt, 0, k * ld);
    let mut i = 0;
    while i + 4 <= m {
        let (a0, a1, a2, a3) = (a.add(i * n), a.add((i + 1) * n), a.add((i + 2) * n), a.add((i + 3) * n));
        for p in 0..n {
            let av = f32x4(*a0.add(p), *a1.add(p), *a2.add(p), *a3.add(p));
            for t in 0..z {
                let q = yt.add(*cols.add(p * z + t) as usize * ld + i) as *mut v128;
                v128_store(q, f32x4_add(v128_load(q), f32x4_mul(av, f32x4_splat(*signs.add(p * z + t)))));
            }
        }
        i += 4;
    }
    while i < m {
        for p in 0..n {
            let x = *a.add(i * n + p);
            for t in 0..z {
                *yt.add(*cols.add(p * z + t) as usize * ld + i) += *signs.add(p * z + t) * x;
            }
        }
        i += 1;
    }
    for i in 0..m {
        for j in 0..k {
            *y.add(i * k + j) = *yt.add(j * ld + i);
        }
    }
}
