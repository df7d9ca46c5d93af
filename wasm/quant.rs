//! Q-GaLore group quantization (Zhang et al. 2024; VITA-Group/Q-GaLore utils/quantization.py and
//! q_galore_adamw8bit.py `_quantize` / `_quantize_stochastic_round`), per group of `group`
//! consecutive elements of the flat tensor, all arithmetic in f32:
//!   s = max(max − min, 1e-5) / (2^b − 1),  z = clamp(−round(min / s), 0, 2^b − 1)
//!   q = clamp(round(x / s) + z, 0, 2^b − 1)          round = half-to-even (torch.round)
//!   stochastic: round(u) → floor(u) + [ρ < u − floor(u)], ρ ~ U[0, 1) with 24 bits
//!   dequantize: (q − z) · s
//! ρ for element i comes from xorshift32 lane i mod 4 (streams 0..3 of `seed`), so the SIMD loop
//! and the TS mirror (src/linalg/quant.ts) draw identical numbers. INT4: two per byte, element 2i
//! in the low nibble. A last, shorter group is allowed (the official code asserts it away).
use crate::math::{floor32, nearest32, stream_state, xorshift};
use core::arch::wasm32::*;

pub unsafe fn quantize(
    x: *const f32, len: usize, bits: u32, group: usize, stochastic: bool, seed: u32, q: *mut u8,
    scales: *mut f32, zeros: *mut u8,
) {
    let maxq = ((1u32 << bits) - 1) as f32;
    let mut lanes = [0u32; 4];
    for l in 0..4 {
        lanes[l] = stream_state(seed, l as u32);
    }
    let ngroups = (len + group - 1) / group;
    for gi in 0..ngroups {
        let g0 = gi * group;
        let g1 = if g0 + group < len { g0 + group } else { len };
        let (mut mn, mut mx) = (*x.add(g0), *x.add(g0));
        for i in g0 + 1..g1 {
            let v = *x.add(i);
            mn = if v < mn { v } else { mn };
            mx = if v > mx { v } else { mx };
        }
        let d = mx - mn;
        let s = (if d > 1e-5f32 { d } else { 1e-5f32 }) / maxq;
        let z = (-nearest32(mn / s)).max(0.0).min(maxq);
        *scales.add(gi) = s;
        *zeros.add(gi) = z as u8;
        let mut i = g0;
        while i < g1 && i % 4 != 0 {
            put(q, bits, i, scalar(*x.add(i), s, z, maxq, stochastic, &mut lanes[i & 3]));
            i += 1;
        }
        if i + 4 <= g1 {
            let (sv, zv, mv, zero) = (f32x4_splat(s), f32x4_splat(z), f32x4_splat(maxq), f32x4_splat(0.0));
            let mut st = v128_load(lanes.as_ptr() as *const v128);
            while i + 4 <= g1 {
                let u = f32x4_div(v128_load(x.add(i) as *const v128), sv);
                let r = if stochastic {
                    st = v128_xor(st, i32x4_shl(st, 13));
                    st = v128_xor(st, u32x4_shr(st, 17));
                    st = v128_xor(st, i32x4_shl(st, 5));
                    let rho = f32x4_mul(f32x4_convert_u32x4(u32x4_shr(st, 8)), f32x4_splat(1.0 / 16_777_216.0));
                    let f = f32x4_floor(u);
                    let up = f32x4_lt(rho, f32x4_sub(u, f));
                    f32x4_add(f, v128_and(up, f32x4_splat(1.0)))
                } else {
                    f32x4_nearest(u)
                };
                let v = f32x4_min(f32x4_max(f32x4_add(r, zv), zero), mv);
                let w = i32x4_trunc_sat_f32x4(v);
                let packed = i32x4_extract_lane::<0>(u8x16_narrow_i16x8(i16x8_narrow_i32x4(w, w), i16x8_narrow_i32x4(w, w))) as u32;
                if bits == 8 {
                    (q.add(i) as *mut u32).write_unaligned(packed);
                } else {
                    let lo = (packed & 0xf) | ((packed >> 4) & 0xf0);
                    let hi = ((packed >> 16) & 0xf) | ((packed >> 20) & 0xf0);
                    (q.add(i / 2) as *mut u16).write_unaligned((lo | (hi << 8)) as u16);
                }
                i += 4;
            }
            v128_store(lanes.as_mut_ptr() as *mut v128, st);
        }
        while i < g1 {
            put(q, bits, i, scalar(*x.add(i), s, z, maxq, stochastic, &mut lanes[i & 3]));
            i += 1;
        }
    }
}

#[inline(always)]
fn scalar(x: f32, s: f32, z: f32, maxq: f32, stochastic: bool, lane: &mut u32) -> u8 {
    let u = x / s;
    let r = if stochastic {
        let rho = ((xorshift(lane) >> 8) as f32) * (1.0 / 16_777_216.0);
        let f = floor32(u);
        if rho < u - f {
            f + 1.0
        } else {
            f
        }
    } else {
        nearest32(u)
    };
    (r + z).max(0.0).min(maxq) as u8
}

#[inline(always)]
unsafe fn put(q: *mut u8, bits: u32, i: usize, v: u8) {
    if bits == 8 {
        *q.add(i) = v;
    } else if i & 1 == 0 {
        *q.add(i / 2) = v;
    } else {
        *q.add(i / 2) |= v << 4;
    }
}

pub unsafe fn dequantize(
    q: *const u8, len: usize, bits: u32, group: usize, scales: *const f32, zeros: *const u8, out: *mut f32,
) {
    let ngroups = (len + group - 1) / group;
    for gi in 0..ngroups {
        let g0 = gi * group;
        let g1 = if g0 + group < len { g0 + group } else { len };
        let (s, z) = (*scales.add(gi), *zeros.add(gi) as f32);
        let mut i = g0;
        while i < g1 && i % 4 != 0 {
            *out.add(i) = (get(q, bits, i) as f32 - z) * s;
            i += 1;
        }
        let (sv, zv) = (f32x4_splat(s), f32x4_splat(z));
        while i + 4 <= g1 {
            let w = if bits == 8 {
                let b = (q.add(i) as *const u32).read_unaligned();
                u32x4_extend_low_u16x8(u16x8_extend_low_u8x16(u32x4_splat(b)))
            } else {
                let (b0, b1) = (*q.add(i / 2) as u32, *q.add(i / 2 + 1) as u32);
                u32x4(b0 & 15, b0 >> 4, b1 & 15, b1 >> 4)
            };
            let v = f32x4_mul(f32x4_sub(f32x4_convert_u32x4(w), zv), sv);
            v128_store(out.add(i) as *mut v128, v);
            i += 4;
        }
        while i < g1 {
            *out.add(i) = (get(q, bits, i) as f32 - z) * s;
            i += 1;
        }
    }
}

#[inline(always)]
unsafe fn get(q: *const u8, bits: u32, i: usize) -> u8 {
    if bits == 8 {
        *q.add(i)
    } else {
        (*q.add(i / 2) >> ((i & 1) * 4)) & 15
    }
}
