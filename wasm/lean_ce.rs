//! Lean LM head fused with cross-entropy: logits = h (rows×d)·Wᵀ, W stored [v, d] (`trans_w`) or
//! [d, v], computed for a chunk of rows × one block of VB vocabulary columns at a time — never for the
//! whole batch, and each block of W is packed once per chunk of rows (not once per few rows).
//!   forward: an online log-sum-exp over the vocabulary blocks (running max and rescaled sum, as
//!            FlashAttention's softmax), nll_r = lse_r − l_r[y_r] for y_r ≥ 0 (0 for ignored labels < 0);
//!            loss = Σ_r nll_r summed in f64; lse_r optionally kept for the backward
//!   backward: per block dl_r = g_r·(exp(l_r − lse_r) − onehot(y_r)) on valid rows (0 on ignored ones),
//!            dh (+)= dl·W_block, dW_block (+)= dlᵀ·h — lse from the forward, or one extra pass for it
//! Scratch: chunk·VB logits + lse/max/sum rows + lean_gemm scratch. Returns 0, or r + 1 for the first
//! label r ≥ v.
use crate::lean_gemm::{gemm, scratch_floats as gemm_floats, View};
use crate::lean_math::*;
use crate::lean_reduce::sum_contig;
use core::arch::wasm32::*;

/// Vocabulary columns per block.
const VB: usize = 512;

/// Scratch f32 of every cross-entropy kernel for chunks of `chunk` rows.
pub fn scratch_floats(chunk: usize, v: usize, d: usize) -> usize {
    let vb = if v < VB { v } else { VB };
    let g = [gemm_floats(chunk, vb, d), gemm_floats(chunk, d, vb), gemm_floats(vb, d, chunk), gemm_floats(d, vb, chunk)];
    let mut most = 0;
    for x in g {
        most = if x > most { x } else { most };
    }
    (chunk * vb + 3) / 4 * 4 + 3 * ((chunk + 3) / 4 * 4) + most
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

/// Scratch laid out: the block of logits, then three per-row vectors, then the gemm's own.
struct Scratch {
    blk: *mut f32,
    m: *mut f32,
    s: *mut f32,
    y: *mut f32,
    gs: *mut f32,
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
    unsafe fn scratch(&self, p: *mut f32) -> Scratch {
        let vb = if self.v < VB { self.v } else { VB };
        let rows = (self.chunk + 3) / 4 * 4;
        let blk = p;
        let m = blk.add((self.chunk * vb + 3) / 4 * 4);
        Scratch { blk, m, s: m.add(rows), y: m.add(2 * rows), gs: m.add(3 * rows) }
    }
    /// W's columns j0..j0+n as the B operand (d × n) of h·Wᵀ.
    unsafe fn w_t(&self, j0: usize) -> View {
        if self.trans_w {
            View { p: self.w.add(j0 * self.d), rs: 1, cs: self.d }
        } else {
            View { p: self.w.add(j0), rs: self.v, cs: 1 }
        }
    }
    /// W's rows j0..j0+n as the B operand (n × d) of dl·W.
    unsafe fn w_rows(&self, j0: usize) -> View {
        if self.trans_w {
            View { p: self.w.add(j0 * self.d), rs: self.d, cs: 1 }
        } else {
            View { p: self.w.add(j0), rs: 1, cs: self.v }
        }
    }
    /// logits of rows r0..r0+c × columns j0..j0+n into `blk` (row stride n).
    unsafe fn block(&self, r0: usize, c: usize, j0: usize, n: usize, sc: &Scratch) {
        let a = View { p: self.h.add(r0 * self.d), rs: self.d, cs: 1 };
        gemm(c, n, self.d, a, self.w_t(j0), sc.blk, n, 1.0, false, core::ptr::null(), sc.gs);
    }
    /// lse of rows r0..r0+c into sc.m (the label's logit into sc.y), by an online log-sum-exp.
    unsafe fn lse(&self, k: &K, r0: usize, c: usize, sc: &Scratch) {
        for r in 0..c {
            *sc.m.add(r) = f32::NEG_INFINITY;
            *sc.s.add(r) = 0.0;
            *sc.y.add(r) = 0.0;
        }
        let mut j0 = 0;
        while j0 < self.v {
            let n = if self.v - j0 < VB { self.v - j0 } else { VB };
            self.block(r0, c, j0, n, sc);
            for r in 0..c {
                let row = sc.blk.add(r * n);
                let bm = row_max(row, n);
                let (m, s) = (sc.m.add(r), sc.s.add(r));
                if bm > *m {
                    if *s > 0.0 {
                        *s *= f32x4_extract_lane::<0>(k.exp(splat(*m - bm)));
                    }
                    *m = bm;
                }
                let mv = splat(*m);
                *s += sum_contig(row, n, &|x| k.exp(f32x4_sub(x, mv)));
                let y = *self.labels.add(r0 + r);
                if y >= j0 as i32 && (y as usize) < j0 + n {
                    *sc.y.add(r) = *row.add(y as usize - j0);
                }
            }
            j0 += n;
        }
        for r in 0..c {
            *sc.m.add(r) += f32x4_extract_lane::<0>(log4(splat(*sc.s.add(r))));
        }
    }
}

#[inline(always)]
unsafe fn row_max(row: *const f32, n: usize) -> f32 {
    let mut m = splat(f32::NEG_INFINITY);
    let mut j = 0;
    while j + 4 <= n {
        m = f32x4_pmax(m, ld(row.add(j)));
        j += 4;
    }
    let mut mx = hmax(m);
    for t in j..n {
        mx = if *row.add(t) > mx { *row.add(t) } else { mx };
    }
    mx
}

/// Σ NLL into loss[0] and per-row NLL into nll, and lse per row into `lse_out` (each when non-null).
pub unsafe fn cross_entropy(hd: &Head, loss: *mut f32, nll: *mut f32, lse_out: *mut f32, scratch: *mut f32) -> usize {
    let bad = hd.check();
    if bad != 0 {
        return bad;
    }
    let (k, sc) = (K::load(), hd.scratch(scratch));
    let mut total = 0f64;
    let mut r0 = 0;
    while r0 < hd.rows {
        let c = if hd.rows - r0 < hd.chunk { hd.rows - r0 } else { hd.chunk };
        hd.lse(&k, r0, c, &sc);
        for r in 0..c {
            let y = *hd.labels.add(r0 + r);
            let x = if y < 0 { 0.0 } else { *sc.m.add(r) - *sc.y.add(r) };
            total += x as f64;
            if !nll.is_null() {
                *nll.add(r0 + r) = x;
            }
            if !lse_out.is_null() {
                *lse_out.add(r0 + r) = *sc.m.add(r);
            }
        }
        r0 += c;
    }
    if !loss.is_null() {
        *loss = total as f32;
    }
    0
}

/// dh (rows×d, overwritten) and dW (+)= of Σ_r g_r·NLL_r (g: rows f32); dh or dw null = skip; `lse_in`:
/// the forward's per-row lse (null: computed here, one more pass over the vocabulary).
pub unsafe fn cross_entropy_backward(
    g: *const f32, hd: &Head, lse_in: *const f32, dh: *mut f32, dw: *mut f32, accumulate_dw: bool,
    scratch: *mut f32,
) -> usize {
    let bad = hd.check();
    if bad != 0 {
        return bad;
    }
    let (d, v) = (hd.d, hd.v);
    if !dw.is_null() && !accumulate_dw {
        core::ptr::write_bytes(dw, 0, v * d);
    }
    let (k, sc) = (K::load(), hd.scratch(scratch));
    let mut r0 = 0;
    while r0 < hd.rows {
        let c = if hd.rows - r0 < hd.chunk { hd.rows - r0 } else { hd.chunk };
        if lse_in.is_null() {
            hd.lse(&k, r0, c, &sc);
        } else {
            core::ptr::copy_nonoverlapping(lse_in.add(r0), sc.m, c);
        }
        let hc = hd.h.add(r0 * d);
        let mut j0 = 0;
        while j0 < v {
            let n = if v - j0 < VB { v - j0 } else { VB };
            hd.block(r0, c, j0, n, &sc);
            // logits → dlogits in place
            for r in 0..c {
                let y = *hd.labels.add(r0 + r);
                let row = sc.blk.add(r * n);
                let gr = *g.add(r0 + r);
                if y < 0 || gr == 0.0 {
                    core::ptr::write_bytes(row, 0, n);
                    continue;
                }
                let (shift, gv) = (splat(*sc.m.add(r)), splat(gr));
                let mut j = 0;
                while j + 4 <= n {
                    st(row.add(j), f32x4_mul(gv, k.exp(f32x4_sub(ld(row.add(j)), shift))));
                    j += 4;
                }
                for t in j..n {
                    *row.add(t) = gr * f32x4_extract_lane::<0>(k.exp(f32x4_sub(splat(*row.add(t)), shift)));
                }
                if y as usize >= j0 && (y as usize) < j0 + n {
                    *row.add(y as usize - j0) -= gr;
                }
            }
            let dl = View { p: sc.blk, rs: n, cs: 1 };
            if !dh.is_null() {
                // dh (c×d) (+)= dl (c×n) · W_block (n×d); the first block overwrites
                gemm(c, d, n, dl, hd.w_rows(j0), dh.add(r0 * d), d, 1.0, j0 > 0, core::ptr::null(), sc.gs);
            }
            if !dw.is_null() {
                let dlt = View { p: sc.blk, rs: 1, cs: n };
                if hd.trans_w {
                    // dW rows j0.. [n, d] += dlᵀ (n×c) · h_chunk (c×d)
                    let hv = View { p: hc, rs: d, cs: 1 };
                    gemm(n, d, c, dlt, hv, dw.add(j0 * d), d, 1.0, true, core::ptr::null(), sc.gs);
                } else {
                    // dW columns j0.. [d, n] (row stride v) += h_chunkᵀ (d×c) · dl (c×n)
                    let ht = View { p: hc, rs: 1, cs: d };
                    gemm(d, n, c, ht, dl, dw.add(j0), v, 1.0, true, core::ptr::null(), sc.gs);
                }
            }
            j0 += n;
        }
        r0 += c;
    }
    0
}
