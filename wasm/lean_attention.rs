//! Lean causal attention forward (FlashAttention-style, one thread): q (B,H,Tq,E), k/v (B,KVH,Tk,E),
//! out (B,H,Tq,E), lse (B,H,Tq). Query head i reads kv head ⌊i/(H/KVH)⌋ (GQA without copies).
//! Query i sits at position P = Tk − Tq + i and may attend key j iff j ≤ P, j > P − window
//! (window > 0) and mask[b, j] ≠ 0. Per (b, kv head) K is packed as 4-key A-panels and V as
//! 8-column B-panels (lean_gemm layouts); per block of BQ queries and BK keys the scores are
//! Sᵀ = K·Qᵀ·scale tiles, written straight into the 4-query panel layout P·V needs, with an online
//! softmax lane-wise over 4 queries (running max m, sum l; out rescaled by e^{m_old − m_new}).
//! Masked scores act as −1e9 exactly like the IR: they vanish next to any allowed score, and a row
//! with none allowed gets the uniform average of v (lse = −1e9 + ln Tk). Scratch: scratch_floats.
use crate::lean_gemm::{block, micro, pack_a, pack_b, View, NR};
use crate::lean_math::*;
use core::arch::wasm32::*;

pub const BQ: usize = 64;
pub const BK: usize = 64;

#[inline(always)]
pub fn ru(x: usize, to: usize) -> usize {
    (x + to - 1) / to * to
}

#[inline(always)]
pub fn min(a: usize, b: usize) -> usize {
    if a < b { a } else { b }
}

/// Attention dimensions and masking rules.
pub struct Geo {
    pub b: usize,
    pub h: usize,
    pub kvh: usize,
    pub tq: usize,
    pub tk: usize,
    pub e: usize,
    pub scale: f32,
    pub window: usize,
    pub mask: *const i32,
}

impl Geo {
    /// Absolute position of query i.
    #[inline(always)]
    pub fn pos(&self, i: usize) -> i32 {
        self.tk as i32 - self.tq as i32 + i as i32
    }
    /// Keys [lo, hi] a block of queries i0..i0+n may reach by causality and window (hi < lo: none).
    pub fn key_span(&self, i0: usize, n: usize) -> (usize, i32) {
        let (first, last) = (self.pos(i0), self.pos(i0 + n - 1));
        let hi = if last > self.tk as i32 - 1 { self.tk as i32 - 1 } else { last };
        let lo = if self.window > 0 { first - self.window as i32 + 1 } else { 0 };
        ((if lo < 0 { 0 } else { lo as usize }) / 4 * 4, hi)
    }
    #[inline(always)]
    pub unsafe fn key_ok(&self, bi: usize, j: usize) -> bool {
        self.mask.is_null() || *self.mask.add(bi * self.tk + j) != 0
    }
    /// Lane mask of the 4 queries at positions `posv` allowed to see key j.
    #[inline(always)]
    pub unsafe fn allowed4(&self, posv: v128, bi: usize, j: usize) -> v128 {
        if !self.key_ok(bi, j) {
            return i32x4_splat(0);
        }
        let jv = i32x4_splat(j as i32);
        let causal = i32x4_le(jv, posv);
        if self.window == 0 {
            return causal;
        }
        v128_and(causal, i32x4_gt(jv, i32x4_sub(posv, i32x4_splat(self.window as i32))))
    }
    /// Whether every query i0..i0+n may see every key j0..j0+nk (no per-score masking needed).
    pub unsafe fn all_allowed(&self, bi: usize, i0: usize, n: usize, j0: usize, nk: usize) -> bool {
        if j0 as i32 + nk as i32 - 1 > self.pos(i0) {
            return false;
        }
        if self.window > 0 && j0 as i32 <= self.pos(i0 + n - 1) - self.window as i32 {
            return false;
        }
        (j0..j0 + nk).all(|j| self.key_ok(bi, j))
    }
    /// Whether query i may attend any key; `pre[j]` counts the unmasked keys before j.
    pub unsafe fn alive(&self, pre: *const u32, i: usize) -> bool {
        let pos = self.pos(i);
        let hi = if pos > self.tk as i32 - 1 { self.tk as i32 - 1 } else { pos };
        let lo = if self.window > 0 && pos - self.window as i32 + 1 > 0 { pos - self.window as i32 + 1 } else { 0 };
        hi >= lo && *pre.add(hi as usize + 1) > *pre.add(lo as usize)
    }
    pub fn posv(&self, i: usize) -> v128 {
        let p = self.pos(i);
        i32x4(p, p + 1, p + 2, p + 3)
    }
}

/// Scratch f32 of the forward (`backward` = false) or backward pass.
pub fn scratch_floats(tq: usize, tk: usize, e: usize, backward: bool) -> usize {
    let _ = tq;
    let packs = ru(tk, 4) * e + ru(e, NR) * tk;
    if backward {
        ru(tk + 1, 4) + packs + ru(tk, 4) * e + 2 * BQ * e + 2 * ru(e, NR) * BQ + 3 * BQ * BK + 2 * BQ
    } else {
        packs + BQ * e + BQ * BK + 2 * BQ + ru(e, 4)
    }
}

/// Pack K (tk×e) as 4-key A-panels and V as 8-column B-panels over depth tk.
pub unsafe fn pack_kv(k: *const f32, v: *const f32, tk: usize, e: usize, kpa: *mut f32, vpb: *mut f32) {
    pack_a(tk, e, View { p: k, rs: e, cs: 1 }, 0, 0, kpa);
    pack_b(tk, e, View { p: v, rs: e, cs: 1 }, 0, 0, vpb);
}

/// Sᵀ tiles (scale·q·k) of queries i0.. (packed 8-query B-panels over e) × keys j0..j0+nk into
/// `dst` laid out as 4-query panels over BK keys: dst[qp·BK·4 + jb·4 + lane]. Tiles whose keys all
/// lie after every query's position are skipped (the softmax zeroes them).
pub unsafe fn scores(g: &Geo, i0: usize, kpa: *const f32, qpb: *const f32, nq: usize, j0: usize, nk: usize, dst: *mut f32) {
    let (e, sv) = (g.e, splat(g.scale));
    for kp in 0..(nk + 3) / 4 {
        let a = kpa.add((j0 / 4 + kp) * 4 * e);
        for q8 in 0..(nq + 7) / 8 {
            if (j0 + 4 * kp) as i32 > g.pos(i0 + 8 * q8 + 7) {
                continue;
            }
            let acc = micro(e, a, qpb.add(q8 * 8 * e));
            for kk in 0..4 {
                for half in 0..2 {
                    st(dst.add((2 * q8 + half) * BK * 4 + (4 * kp + kk) * 4), f32x4_mul(acc[2 * kk + half], sv));
                }
            }
        }
    }
}

/// Forward over every (batch, head, query block).
pub unsafe fn attention(q: *const f32, k: *const f32, v: *const f32, out: *mut f32, lse: *mut f32, g: &Geo, scratch: *mut f32) {
    let e = g.e;
    let kpa = scratch;
    let vpb = kpa.add(ru(g.tk, 4) * e);
    let qpb = vpb.add(ru(e, NR) * g.tk);
    let pbuf = qpb.add(BQ * e);
    let stats = pbuf.add(BQ * BK);
    let vmean = stats.add(2 * BQ);
    let rep = g.h / g.kvh;
    for bi in 0..g.b {
        for gi in 0..g.kvh {
            let (kg, vg) = (k.add((bi * g.kvh + gi) * g.tk * e), v.add((bi * g.kvh + gi) * g.tk * e));
            pack_kv(kg, vg, g.tk, e, kpa, vpb);
            // mean of v: the output of a row that may attend nothing
            core::ptr::write_bytes(vmean, 0, e);
            for j in 0..g.tk {
                (0..e).for_each(|c| *vmean.add(c) += *vg.add(j * e + c));
            }
            (0..e).for_each(|c| *vmean.add(c) /= g.tk as f32);
            for hq in gi * rep..(gi + 1) * rep {
                let head = bi * g.h + hq;
                let mut i0 = 0;
                while i0 < g.tq {
                    let nq = min(BQ, g.tq - i0);
                    let (orows, lrows) = (out.add((head * g.tq + i0) * e), lse.add(head * g.tq + i0));
                    pack_b(e, nq, View { p: q.add((head * g.tq + i0) * e), rs: 1, cs: e }, 0, 0, qpb);
                    forward_block(g, bi, i0, nq, kpa, vpb, qpb, pbuf, stats, orows);
                    finish_rows(g, nq, stats, vmean, orows, lrows);
                    i0 += nq;
                }
            }
        }
    }
}

/// Online-softmax pass of one query block over its key span; leaves unnormalised rows in `o`
/// and the running (m, l) per query in stats[0..BQ], stats[BQ..2BQ].
unsafe fn forward_block(
    g: &Geo, bi: usize, i0: usize, nq: usize, kpa: *const f32, vpb: *const f32, qpb: *const f32, pbuf: *mut f32,
    stats: *mut f32, o: *mut f32,
) {
    let (e, k) = (g.e, K::load());
    let (m, l) = (stats, stats.add(BQ));
    core::ptr::write_bytes(o, 0, nq * e);
    for r in 0..BQ {
        *m.add(r) = f32::NEG_INFINITY;
        *l.add(r) = 0.0;
    }
    let (lo, hi) = g.key_span(i0, nq);
    let mut j0 = lo;
    while (j0 as i32) <= hi {
        let nk = min(BK, (hi + 1) as usize - j0);
        scores(g, i0, kpa, qpb, nq, j0, nk, pbuf);
        let full = g.all_allowed(bi, i0, nq, j0, nk);
        for qp in 0..(nq + 3) / 4 {
            let row = pbuf.add(qp * BK * 4);
            let posv = g.posv(i0 + 4 * qp);
            let m_old = ld(m.add(4 * qp));
            let mut mx = m_old;
            // keys past the last lane's position are masked for all 4 lanes: p = 0 there
            let reach = g.pos(i0 + 4 * qp + 3) - j0 as i32 + 1;
            let jend = if reach < 0 { 0 } else { min(nk, reach as usize) };
            for jb in 0..jend {
                let mut s = ld(row.add(4 * jb));
                if !full {
                    s = v128_bitselect(s, splat(f32::NEG_INFINITY), g.allowed4(posv, bi, j0 + jb));
                    st(row.add(4 * jb), s);
                }
                mx = f32x4_pmax(mx, s);
            }
            // rows with nothing allowed yet keep m = −∞; shift by 0 so e^{−∞} = 0, not NaN
            let shift = v128_bitselect(splat(0.0), mx, f32x4_eq(mx, splat(f32::NEG_INFINITY)));
            let corr = k.exp(f32x4_sub(m_old, shift));
            let mut sum = splat(0.0);
            for jb in 0..jend {
                let p = k.exp(f32x4_sub(ld(row.add(4 * jb)), shift));
                st(row.add(4 * jb), p);
                sum = f32x4_add(sum, p);
            }
            core::ptr::write_bytes(row.add(4 * jend), 0, 4 * (nk - jend));
            st(l.add(4 * qp), madd(sum, ld(l.add(4 * qp)), corr));
            st(m.add(4 * qp), mx);
            if !all_true(f32x4_eq(corr, splat(1.0))) {
                let mut c = [0f32; 4];
                st(c.as_mut_ptr(), corr);
                for lane in 0..min(4, nq - 4 * qp) {
                    scale_row(o.add((4 * qp + lane) * e), e, c[lane]);
                }
            }
        }
        block(nq, e, nk, pbuf, 4 * BK, vpb.add(j0 * NR), NR * g.tk, o, e, 1.0, true, core::ptr::null());
        j0 += BK;
    }
}

#[inline(always)]
fn all_true(v: v128) -> bool {
    i32x4_all_true(v)
}

/// x[0..n] *= s.
#[inline(always)]
pub unsafe fn scale_row(x: *mut f32, n: usize, s: f32) {
    let sv = splat(s);
    let mut c = 0;
    while c + 4 <= n {
        st(x.add(c), f32x4_mul(ld(x.add(c)), sv));
        c += 4;
    }
    for t in c..n {
        *x.add(t) *= s;
    }
}

/// Normalise each row by l and write lse = m + ln l; rows that saw no allowed key get mean(v).
unsafe fn finish_rows(g: &Geo, nq: usize, stats: *const f32, vmean: *const f32, o: *mut f32, lse: *mut f32) {
    for r in 0..nq {
        let (m, l) = (*stats.add(r), *stats.add(BQ + r));
        if l > 0.0 {
            scale_row(o.add(r * g.e), g.e, 1.0 / l);
            *lse.add(r) = m + f32x4_extract_lane::<0>(log4(splat(l)));
        } else {
            core::ptr::copy_nonoverlapping(vmean, o.add(r * g.e), g.e);
            *lse.add(r) = -1e9 + f32x4_extract_lane::<0>(log4(splat(g.tk as f32)));
        }
    }
}
