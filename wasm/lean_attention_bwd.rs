//! Lean causal attention backward (FlashAttention-2 recomputation, one thread). With P = e^{S − lse}
//! recomputed from the forward's lse (S = scale·QKᵀ, masked scores 0 probability), D_i = dout_i·out_i:
//!   dV = Pᵀ·dO,  dS = P ∘ (dO·Vᵀ − D),  dQ = scale·dS·K,  dK = scale·dSᵀ·Q
//! dK / dV sum over the query heads sharing a kv head. Per key block × query block the tiles Sᵀ
//! and dPᵀ come from the 4×8 micro-kernel (K and V as 4-key A-panels, Q and dO as 8-query
//! B-panels); P and dS are written as 4-key panels over queries (for dV, dK) and as 4-query panels
//! over keys (for dQ), then three packed block products accumulate into dv, dk, dq. A row that may
//! attend nothing (softmax of −1e9 everywhere: uniform) adds dout/Tk to every dv row and no dS.
use crate::lean_attention::{min, ru, Geo, BK, BQ};
use crate::lean_gemm::{block, micro, pack_a, pack_b, transpose4, View, NR};
use crate::lean_math::*;
use core::arch::wasm32::*;

struct Bufs {
    pre: *mut u32,
    kpa: *mut f32,
    kpb: *mut f32,
    vpa: *mut f32,
    qpb: *mut f32,
    dpb: *mut f32,
    qpq: *mut f32,
    dpq: *mut f32,
    pt: *mut f32,
    dst: *mut f32,
    ds: *mut f32,
    dvec: *mut f32,
    lvec: *mut f32,
}

impl Bufs {
    unsafe fn new(g: &Geo, s: *mut f32) -> Bufs {
        let e = g.e;
        let pre = s as *mut u32;
        let kpa = s.add(ru(g.tk + 1, 4));
        let kpb = kpa.add(ru(g.tk, 4) * e);
        let vpa = kpb.add(ru(e, NR) * g.tk);
        let qpb = vpa.add(ru(g.tk, 4) * e);
        let dpb = qpb.add(BQ * e);
        let qpq = dpb.add(BQ * e);
        let dpq = qpq.add(ru(e, NR) * BQ);
        let pt = dpq.add(ru(e, NR) * BQ);
        let (dst, ds) = (pt.add(BQ * BK), pt.add(2 * BQ * BK));
        let dvec = ds.add(BQ * BK);
        Bufs { pre, kpa, kpb, vpa, qpb, dpb, qpq, dpq, pt, dst, ds, dvec, lvec: dvec.add(BQ) }
    }
}

/// dq, dk, dv (overwritten) for every batch, kv head and query block.
pub unsafe fn attention_backward(
    dout: *const f32, q: *const f32, k: *const f32, v: *const f32, out: *const f32, lse: *const f32, dq: *mut f32,
    dk: *mut f32, dv: *mut f32, g: &Geo, scratch: *mut f32,
) {
    let e = g.e;
    let bf = Bufs::new(g, scratch);
    let rep = g.h / g.kvh;
    for bi in 0..g.b {
        // pre[j] = number of unmasked keys before j
        *bf.pre = 0;
        for j in 0..g.tk {
            *bf.pre.add(j + 1) = *bf.pre.add(j) + g.key_ok(bi, j) as u32;
        }
        for gi in 0..g.kvh {
            let off = (bi * g.kvh + gi) * g.tk * e;
            let (kv, vv) = (View { p: k.add(off), rs: e, cs: 1 }, View { p: v.add(off), rs: e, cs: 1 });
            pack_a(g.tk, e, kv, 0, 0, bf.kpa);
            pack_b(g.tk, e, kv, 0, 0, bf.kpb);
            pack_a(g.tk, e, vv, 0, 0, bf.vpa);
            let (dkg, dvg) = (dk.add(off), dv.add(off));
            core::ptr::write_bytes(dkg, 0, g.tk * e);
            core::ptr::write_bytes(dvg, 0, g.tk * e);
            for hq in gi * rep..(gi + 1) * rep {
                let head = bi * g.h + hq;
                let mut i0 = 0;
                while i0 < g.tq {
                    let nq = min(BQ, g.tq - i0);
                    let r = (head * g.tq + i0) * e;
                    let rows = Rows { q: q.add(r), dout: dout.add(r), out: out.add(r), lse: lse.add(head * g.tq + i0), dq: dq.add(r) };
                    query_block(g, &bf, bi, i0, nq, &rows, dkg, dvg);
                    i0 += nq;
                }
            }
        }
    }
}

struct Rows {
    q: *const f32,
    dout: *const f32,
    out: *const f32,
    lse: *const f32,
    dq: *mut f32,
}

unsafe fn query_block(g: &Geo, bf: &Bufs, bi: usize, i0: usize, nq: usize, rw: &Rows, dkg: *mut f32, dvg: *mut f32) {
    let e = g.e;
    pack_b(e, nq, View { p: rw.q, rs: 1, cs: e }, 0, 0, bf.qpb);
    pack_b(e, nq, View { p: rw.dout, rs: 1, cs: e }, 0, 0, bf.dpb);
    pack_b(nq, e, View { p: rw.q, rs: e, cs: 1 }, 0, 0, bf.qpq);
    pack_b(nq, e, View { p: rw.dout, rs: e, cs: 1 }, 0, 0, bf.dpq);
    core::ptr::write_bytes(rw.dq, 0, nq * e);
    for r in 0..BQ {
        let (d, l) = if r < nq { (dot(rw.dout.add(r * e), rw.out.add(r * e), e), *rw.lse.add(r)) } else { (0.0, 0.0) };
        *bf.dvec.add(r) = d;
        *bf.lvec.add(r) = l;
    }
    let (lo, hi) = g.key_span(i0, nq);
    let mut j0 = lo;
    while (j0 as i32) <= hi {
        let nk = min(BK, (hi + 1) as usize - j0);
        let full = g.all_allowed(bi, i0, nq, j0, nk);
        tiles(g, bf, bi, i0, nq, j0, nk, full);
        let (ps, kps) = (4 * BQ, 4 * BK);
        block(nk, e, nq, bf.pt, ps, bf.dpq, NR * nq, dvg.add(j0 * e), e, 1.0, true, core::ptr::null());
        block(nk, e, nq, bf.dst, ps, bf.qpq, NR * nq, dkg.add(j0 * e), e, g.scale, true, core::ptr::null());
        block(nq, e, nk, bf.ds, kps, bf.kpb.add(j0 * NR), NR * g.tk, rw.dq, e, g.scale, true, core::ptr::null());
        j0 += BK;
    }
    // rows that may attend nothing: p = 1/Tk on every key
    for r in 0..nq {
        if !g.alive(bf.pre, i0 + r) {
            for j in 0..g.tk {
                axpy(1.0 / g.tk as f32, rw.dout.add(r * e), dvg.add(j * e), e);
            }
        }
    }
}

/// P, dS of one key block × query block into the pt / dst (4-key panels over queries) and ds
/// (4-query panels over keys) buffers.
unsafe fn tiles(g: &Geo, bf: &Bufs, bi: usize, i0: usize, nq: usize, j0: usize, nk: usize, full: bool) {
    let (e, sv, k) = (g.e, splat(g.scale), K::load());
    for kp in 0..(nk + 3) / 4 {
        let (ka, va) = (bf.kpa.add((j0 / 4 + kp) * 4 * e), bf.vpa.add((j0 / 4 + kp) * 4 * e));
        for q8 in 0..(nq + 7) / 8 {
            if (j0 + 4 * kp) as i32 > g.pos(i0 + 8 * q8 + 7) {
                // every key of the panel lies after every query: P = dS = 0
                for half in 0..2 {
                    let qp = 2 * q8 + half;
                    for kk in 0..4 {
                        st(bf.ds.add(qp * BK * 4 + (4 * kp + kk) * 4), splat(0.0));
                    }
                    core::ptr::write_bytes(bf.pt.add(4 * kp * BQ + 4 * qp * 4), 0, 16);
                    core::ptr::write_bytes(bf.dst.add(4 * kp * BQ + 4 * qp * 4), 0, 16);
                }
                continue;
            }
            let s = micro(e, ka, bf.qpb.add(q8 * 8 * e));
            let dp = micro(e, va, bf.dpb.add(q8 * 8 * e));
            for half in 0..2 {
                let qp = 2 * q8 + half;
                let (posv, lsev, dv4) = (g.posv(i0 + 4 * qp), ld(bf.lvec.add(4 * qp)), ld(bf.dvec.add(4 * qp)));
                let mut p4 = [splat(0.0); 4];
                let mut ds4 = [splat(0.0); 4];
                for kk in 0..4 {
                    let j = 4 * kp + kk;
                    let mut p = k.exp(f32x4_sub(f32x4_mul(s[2 * kk + half], sv), lsev));
                    if j >= nk {
                        p = splat(0.0); // past the block (and maybe past Tk)
                    } else if !full {
                        p = v128_and(p, g.allowed4(posv, bi, j0 + j));
                    }
                    let ds = f32x4_mul(p, f32x4_sub(dp[2 * kk + half], dv4));
                    st(bf.ds.add(qp * BK * 4 + (4 * kp + kk) * 4), ds);
                    p4[kk] = p;
                    ds4[kk] = ds;
                }
                // [key][4 queries] → [query][4 keys] for the key-panel layouts
                let at = 4 * kp * BQ + 4 * qp * 4;
                transpose_regs(&p4, bf.pt.add(at));
                transpose_regs(&ds4, bf.dst.add(at));
            }
        }
    }
}

#[inline(always)]
unsafe fn transpose_regs(x: &[v128; 4], d: *mut f32) {
    let mut t = [0f32; 16];
    for r in 0..4 {
        st(t.as_mut_ptr().add(4 * r), x[r]);
    }
    let tp = t.as_ptr();
    transpose4(tp, tp.add(4), tp.add(8), tp.add(12), d);
}

#[inline(always)]
unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
    let mut s = splat(0.0);
    let mut c = 0;
    while c + 4 <= n {
        s = madd(s, ld(a.add(c)), ld(b.add(c)));
        c += 4;
    }
    let mut r = hsum(s);
    for t in c..n {
        r += *a.add(t) * *b.add(t);
    }
    r
}

#[inline(always)]
unsafe fn axpy(alpha: f32, x: *const f32, y: *mut f32, n: usize) {
    let a = splat(alpha);
    let mut c = 0;
    while c + 4 <= n {
        st(y.add(c), madd(ld(y.add(c)), a, ld(x.add(c))));
        c += 4;
    }
    for t in c..n {
        *y.add(t) += alpha * *x.add(t);
    }
}
