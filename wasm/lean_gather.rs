//! Lean gathers, scatters and masks. Integer indices are i32. Index checks run before anything is
//! written; a bad index returns i + 1 for the first bad position i (the TS wrapper names the id).
//! keep_mask reproduces the `keep_mask` op lowering of src/graph/ops.ts bit for bit: int64
//! wrapping products, truncating division (onnxruntime's integer Div) and a floor Mod.
use crate::lean_math::{ld, st};
use core::arch::wasm32::*;

unsafe fn check(ids: *const i32, n_ids: usize, limit: usize) -> usize {
    for i in 0..n_ids {
        let id = *ids.add(i);
        if id < 0 || id as usize >= limit {
            return i + 1;
        }
    }
    0
}

/// y[0..len] += x[0..len].
#[inline(always)]
unsafe fn add_row(x: *const f32, y: *mut f32, len: usize) {
    let mut j = 0;
    while j + 4 <= len {
        st(y.add(j), f32x4_add(ld(y.add(j)), ld(x.add(j))));
        j += 4;
    }
    for k in j..len {
        *y.add(k) += *x.add(k);
    }
}

/// out[i, :] = table[ids[i], :] for a table of `table_rows` rows of `row_len` f32.
pub unsafe fn gather_rows(
    table: *const f32, ids: *const i32, out: *mut f32, n_ids: usize, row_len: usize, table_rows: usize,
) -> usize {
    let bad = check(ids, n_ids, table_rows);
    if bad != 0 {
        return bad;
    }
    for i in 0..n_ids {
        core::ptr::copy(table.add(*ids.add(i) as usize * row_len), out.add(i * row_len), row_len);
    }
    0
}

/// out[ids[i], :] += g[i, :] (out has `out_rows` rows; the caller zero-fills it first).
pub unsafe fn scatter_add_rows(
    g: *const f32, ids: *const i32, out: *mut f32, n_ids: usize, row_len: usize, out_rows: usize,
) -> usize {
    let bad = check(ids, n_ids, out_rows);
    if bad != 0 {
        return bad;
    }
    for i in 0..n_ids {
        add_row(g.add(i * row_len), out.add(*ids.add(i) as usize * row_len), row_len);
    }
    0
}

/// out[r] = x[r, idx[r]] for x [rows, n].
pub unsafe fn gather_last(x: *const f32, idx: *const i32, out: *mut f32, rows: usize, n: usize) -> usize {
    let bad = check(idx, rows, n);
    if bad != 0 {
        return bad;
    }
    for r in 0..rows {
        *out.add(r) = *x.add(r * n + *idx.add(r) as usize);
    }
    0
}

/// out[r, idx[r]] += g[r] (the caller zero-fills out first).
pub unsafe fn scatter_last(g: *const f32, idx: *const i32, out: *mut f32, rows: usize, n: usize) -> usize {
    let bad = check(idx, rows, n);
    if bad != 0 {
        return bad;
    }
    for r in 0..rows {
        *out.add(r * n + *idx.add(r) as usize) += *g.add(r);
    }
    0
}

/// out[i, j] = j ≤ tk − tq + i (u8), out [tq, tk].
pub unsafe fn causal_mask(out: *mut u8, tq: usize, tk: usize) {
    for i in 0..tq {
        let pos = tk as isize - tq as isize + i as isize;
        for j in 0..tk {
            *out.add(i * tk + j) = (j as isize <= pos) as u8;
        }
    }
}

/// out[i] = bits(i, seed) < thresh with the keep_mask hash (thresh = round(keep·2²⁴)).
pub unsafe fn keep_mask(out: *mut u8, n: usize, seed: i64, thresh: i64) {
    let s = seed.wrapping_mul(0x1405_7b7e);
    for i in 0..n {
        let h = (i as i64).wrapping_mul(0x5851_f42d).wrapping_add(s);
        let h2 = h.wrapping_add(h / 65537).wrapping_mul(0x2545_f491);
        let bits = (h2 / 65536).rem_euclid(1 << 24);
        *out.add(i) = (bits < thresh) as u8;
    }
}

/// Element i of a group-quantized flat tensor: (q − z)·s with q one byte (bits 8) or a nibble (bits 4).
#[inline(always)]
unsafe fn dequant_at(codes: *const u8, scales: *const f32, zeros: *const u8, i: usize, bits: u32, group: usize) -> f32 {
    let q = if bits == 8 { *codes.add(i) } else { (*codes.add(i >> 1) >> ((i & 1) * 4)) & 15 };
    let g = i / group;
    (q as f32 - *zeros.add(g) as f32) * *scales.add(g)
}

/// out[i, :] = dequantized row ids[i] of a group-quantized table (`table_rows` × `row_len`, flat groups
/// of `group` elements): the embedding lookup of a quantized table, without a dequantized copy of it.
pub unsafe fn gather_rows_q(
    codes: *const u8, scales: *const f32, zeros: *const u8, ids: *const i32, out: *mut f32, n_ids: usize,
    row_len: usize, table_rows: usize, bits: u32, group: usize,
) -> usize {
    let bad = check(ids, n_ids, table_rows);
    if bad != 0 {
        return bad;
    }
    for i in 0..n_ids {
        let base = *ids.add(i) as usize * row_len;
        let o = out.add(i * row_len);
        for j in 0..row_len {
            *o.add(j) = dequant_at(codes, scales, zeros, base + j, bits, group);
        }
    }
    0
}
