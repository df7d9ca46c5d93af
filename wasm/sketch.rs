//! Sparse sign sketch Y = AΩ (Ω n×k, row p holding ζ = min(8, k) entries ±1 in distinct columns):
//! the sparse sign embedding of Martinsson & Tropp, "Randomized numerical linear algebra"
//! (Acta Numerica 2020, §9.2; ζ = 8 is their recommended sparsity), as the range finder's test
//! matrix. It costs m·n·ζ multiply-adds instead of a dense sketch's m·n·k, and the power
//! iterations that follow wash out any difference in sketch quality. Columns and signs come from
//! stream 0 of `seed` (column = ⌊(x ≫ 8)·k / 2²⁴⌋ redrawn until distinct within the row, sign =
//! top bit of the next draw). Yᵀ is accumulated eight rows of A at a time in two f32x4 lanes,
//! then transposed. Mirrors src/linalg/sketch.ts.
use crate::math::{stream_state, xorshift};
use crate::scratch;
use core::arch::wasm32::*;

/// Nonzeros per row of Ω.
pub const ZETA: usize = 8;

/// y (m×k) = a (m×n) · Ω, Ω the sparse sign matrix of `seed`.
pub unsafe fn sparse_sign_sketch(a: *const f32, m: usize, n: usize, k: usize, seed: u32, y: *mut f32) {
    let z = if k < ZETA { k } else { ZETA };
    // Yᵀ rows padded by 16 floats: a row stride that is a multiple of 4 KiB would put all of a
    // step's k rows in one L1 set
    let ld = m + 16;
    // row p of Ω as offsets into Yᵀ, the +1 entries first (npos[p] of them), then the −1 entries
    let (cols, offs, npos) = (scratch::<u32>(z), scratch::<u32>(n * z), scratch::<u32>(n));
    let mut st = stream_state(seed, 0);
    for p in 0..n {
        let (mut lo, mut hi) = (0, z);
        for t in 0..z {
            let c = loop {
                let c = (((xorshift(&mut st) >> 8) as u64 * k as u64) >> 24) as u32;
                if !(0..t).any(|u| *cols.add(u) == c) {
                    break c;
                }
            };
            *cols.add(t) = c;
            let at = if xorshift(&mut st) >> 31 == 1 {
                hi -= 1;
                hi
            } else {
                lo += 1;
                lo - 1
            };
            *offs.add(p * z + at) = c * ld as u32;
        }
        *npos.add(p) = lo as u32;
    }
    let yt = scratch::<f32>(k * ld);
    core::ptr::write_bytes(yt, 0, k * ld);
    let mut i = 0;
    while i + 8 <= m {
        let ar = [0, 1, 2, 3, 4, 5, 6, 7].map(|r| a.add((i + r) * n));
        let base = yt.add(i);
        for p in 0..n {
            let lo = f32x4(*ar[0].add(p), *ar[1].add(p), *ar[2].add(p), *ar[3].add(p));
            let hi = f32x4(*ar[4].add(p), *ar[5].add(p), *ar[6].add(p), *ar[7].add(p));
            let (o, np) = (offs.add(p * z), *npos.add(p) as usize);
            for t in 0..z {
                let q = base.add(*o.add(t) as usize);
                let (q0, q1) = (q as *mut v128, q.add(4) as *mut v128);
                if t < np {
                    v128_store(q0, f32x4_add(v128_load(q0), lo));
                    v128_store(q1, f32x4_add(v128_load(q1), hi));
                } else {
                    v128_store(q0, f32x4_sub(v128_load(q0), lo));
                    v128_store(q1, f32x4_sub(v128_load(q1), hi));
                }
            }
        }
        i += 8;
    }
    while i < m {
        for p in 0..n {
            let x = *a.add(i * n + p);
            let np = *npos.add(p) as usize;
            for t in 0..z {
                let q = yt.add(*offs.add(p * z + t) as usize + i);
                *q += if t < np { x } else { -x };
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
