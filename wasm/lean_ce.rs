//! Lean LM head fused with cross-entropy: logits = h (rows×d)·Wᵀ, W stored [v, d] (`trans_w`) or
//! [d, v], computed `chunk` rows at a time into scratch and never for the whole batch.
//!   forward: nll_r = logsumexp(l_r) − l_r[y_r] for y_r ≥ 0 (0 for ignored labels < 0);
//!            loss = Σ_r nll_r summed in f64
//!   backward: dl_r = g_r·(softmax(l_r) − onehot(y_r)) on valid rows (0 on ignored ones), g the
//!   per-row cotangents,
//!             dh = dl·W, dW (+)= dlᵀ·h (recomputing each chunk's logits)
//! Scratch: chunk·v logits + lean_gemm scratch. Returns 0, or r + 1 for the first label r ≥ v.
use crate::lean_gemm::{gemm, scratch_floats as gemm_floats, View};
use crate::lean_math::*;
use crate::lean_reduce::sum_contig;
use core::arch::wasm32::*;

/// Scratch f32 of every cross-entropy kernel for chunks of `chunk` rows.
pub fn scratch_floats(chunk: usize, v: usize, d: usize) -> usize {
    let g = [gemm_floats(chunk, v, d), gemm_floats(chunk, d, v), gemm_floats(v, d, chunk), gemm_floats(d, v, chunk)];
    let mut most = 0;
    for x in g {
        most = if x > most { x } else { most };
    }
    (chunk * v + 3) / 4 * 4 + most
}

pub struct Head {
    pub h: *const f32,
    pub w: *const f32,
    pub labels: *const i32,
    pub rows: usize,
    pub d: usize,
    pub v: usize,
    pub chunk: usize,
    pub trans_w: bool,
}

impl Head {
    unsafe fn check(&self) -> usize {
        for r in 0..self.rows {
            if *self.labels.add(r) >= self.v as i32 {
                return r + 1;
            }
        }
        0
    }
    /// logits[0..c, 0..v] of rows r0..r0+c.
    unsafe fn logits(&self, r0: usize, c: usize, logits: *mut f32, gs: *mut f32) {
        let w = if self.trans_w { View { p: self.w, rs: 1, cs: self.d } } else { View { p: self.w, rs: self.v, cs: 1 } };
        let a = View { p: self.h.add(r0 * self.d), rs: self.d, cs: 1 };
        gemm(c, self.v, self.d, a, w, logits, self.v, 1.0, false, core::ptr::null(), gs);
    }
}

/// logsumexp of one row of logits (max-shifted).
#[inline(always)]
unsafe fn lse(k: &K, row: *const f32, v: usize) -> f32 {
    let mut m = splat(f32::NEG_INFINITY);
    let mut j = 0;
    while j + 4 <= v {
        m = f32x4_pmax(m, ld(row.add(j)));
        j += 4;
    }
    let mut mx = hmax(m);
    for t in j..v {
        mx = if *row.add(t) > mx { *row.add(t) } else { mx };
    }
    let mv = splat(mx);
    let s = sum_contig(row, v, &|x| k.exp(f32x4_sub(x, mv)));
    mx + f32x4_extract_lane::<0>(log4(splat(s)))
}

/// Σ NLL into loss[0] (when non-null) and per-row NLL into nll (when non-null).
pub unsafe fn cross_entropy(hd: &Head, loss: *mut f32, nll: *mut f32, scratch: *mut f32) -> usize {
    let bad = hd.check();
    if bad != 0 {
        return bad;
    }
    let (k, logits) = (K::load(), scratch);
    let gs = scratch.add((hd.chunk * hd.v + 3) / 4 * 4);
    let mut total = 0f64;
    let mut r0 = 0;
    while r0 < hd.rows {
        let c = if hd.rows - r0 < hd.chunk { hd.rows - r0 } else { hd.chunk };
        hd.logits(r0, c, logits, gs);
        for r in 0..c {
            let y = *hd.labels.add(r0 + r);
            let row = logits.add(r * hd.v);
            let x = if y < 0 { 0.0 } else { lse(&k, row, hd.v) - *row.add(y as usize) };
            total += x as f64;
            if !nll.is_null() {
                *nll.add(r0 + r) = x;
            }
        }
        r0 += c;
    }
    if !loss.is_null() {
        *loss = total as f32;
    }
    0
}

/// dh (rows×d, overwritten) and dW (+)= of Σ_r g_r·NLL_r (g: rows f32); dh or dw null = skip.
pub unsafe fn cross_entropy_backward(
    g: *const f32, hd: &Head, dh: *mut f32, dw: *mut f32, accumulate_dw: bool, scratch: *mut f32,
) -> usize {
    let bad = hd.check();
    if bad != 0 {
        return bad;
    }
    let (d, v) = (hd.d, hd.v);
    if hd.rows == 0 && !dw.is_null() && !accumulate_dw {
        core::ptr::write_bytes(dw, 0, v * d);
    }
    let (k, logits) = (K::load(), scratch);
    let gs = scratch.add((hd.chunk * v + 3) / 4 * 4);
    let mut r0 = 0;
    while r0 < hd.rows {
        let c = if hd.rows - r0 < hd.chunk { hd.rows - r0 } else { hd.chunk };
        hd.logits(r0, c, logits, gs);
        // logits → dlogits in place
        for r in 0..c {
            let y = *hd.labels.add(r0 + r);
            let row = logits.add(r * v);
            let g_loss = *g.add(r0 + r);
            if y < 0 {
                core::ptr::write_bytes(row, 0, v);
                continue;
            }
            let shift = splat(lse(&k, row, v));
            let g = splat(g_loss);
            let mut j = 0;
            while j + 4 <= v {
                st(row.add(j), f32x4_mul(g, k.exp(f32x4_sub(ld(row.add(j)), shift))));
                j += 4;
            }
            for t in j..v {
                let mut tmp = [0f32; 4];
                tmp[0] = *row.add(t);
                *row.add(t) = g_loss * f32x4_extract_lane::<0>(k.exp(f32x4_sub(ld(tmp.as_ptr()), shift)));
            }
            *row.add(y as usize) -= g_loss;
        }
        let dl = View { p: logits, rs: v, cs: 1 };
        let hc = hd.h.add(r0 * d);
        if !dh.is_null() {
            // dh = dl (c×v) · W as v×d
            let w = if hd.trans_w { View { p: hd.w, rs: d, cs: 1 } } else { View { p: hd.w, rs: 1, cs: v } };
            gemm(c, d, v, dl, w, dh.add(r0 * d), d, 1.0, false, core::ptr::null(), gs);
        }
        if !dw.is_null() {
            let beta = accumulate_dw || r0 > 0;
            if hd.trans_w {
                // dW [v, d] = dlᵀ (v×c) · h_chunk (c×d)
                let dlt = View { p: logits, rs: 1, cs: v };
                gemm(v, d, c, dlt, View { p: hc, rs: d, cs: 1 }, dw, d, 1.0, beta, core::ptr::null(), gs);
            } else {
                // dW [d, v] = h_chunkᵀ (d×c) · dl (c×v)
                gemm(d, v, c, View { p: hc, rs: 1, cs: d }, dl, dw, v, 1.0, beta, core::ptr::null(), gs);
            }
        }
        r0 += c;
    }
    0
}
