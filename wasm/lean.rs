//! The lean backend's C ABI: every `lean_*` export. All pointers are byte offsets into linear
//! memory chosen by the TypeScript planner (src/runtime/lean/kernels.ts); no export allocates,
//! grows memory, or touches the bump arena of kernels.rs. Array arguments (shapes, strides) are
//! written by the caller into the static `lean_args` block. Return codes: 0 = ok, else see each.
use crate::lean_attention as attn;
use crate::lean_attention_bwd as attn_bwd;
use crate::lean_ce as ce;
use crate::lean_elementwise as ew;
use crate::lean_gather as gather;
use crate::lean_gemm::{self, View};
use crate::lean_gemm_q as gemm_q;
use crate::lean_norm as norm;
use crate::lean_reduce as reduce;
use crate::lean_strided::{self as strided, Nd, MAX_RANK};

extern "C" {
    static __heap_base: u8;
}

/// Shapes and strides of the strided kernels (rank ≤ 6, up to 4 arrays).
static mut ARGS: [i32; 64] = [0; 64];

/// First byte above the module's data and stack: the planner's memory starts here.
#[no_mangle]
pub unsafe extern "C" fn lean_heap_base() -> usize {
    &__heap_base as *const u8 as usize
}

/// Address of the 64 × i32 argument block.
#[no_mangle]
pub unsafe extern "C" fn lean_args() -> *mut i32 {
    ARGS.as_mut_ptr()
}

/// Scratch f32 of `lean_gemm` for one m×n×k product.
#[no_mangle]
pub extern "C" fn lean_gemm_scratch_floats(m: usize, n: usize, k: usize) -> usize {
    lean_gemm::scratch_floats(m, n, k)
}

/// C_i = alpha·op(A_i)·op(B_i) [+ C_i] [+ bias] for i < batch (see lean_gemm.rs).
#[no_mangle]
pub unsafe extern "C" fn lean_gemm(
    a: *const f32, b: *const f32, c: *mut f32, bias: *const f32, m: usize, n: usize, k: usize, trans_a: u32,
    trans_b: u32, batch: usize, stride_a: usize, stride_b: usize, stride_c: usize, alpha: f32, accumulate: u32,
    scratch: *mut f32,
) {
    let (mut m, mut batch) = (m, batch);
    // x (batch·m × k) @ shared W: one tall product packs W once
    if batch > 1 && stride_b == 0 && trans_a == 0 && stride_a == m * k && stride_c == m * n {
        m *= batch;
        batch = 1;
    }
    let (ars, acs) = if trans_a != 0 { (1, m) } else { (k, 1) };
    let (brs, bcs) = if trans_b != 0 { (1, k) } else { (n, 1) };
    for i in 0..batch {
        let av = View { p: a.add(i * stride_a), rs: ars, cs: acs };
        let bv = View { p: b.add(i * stride_b), rs: brs, cs: bcs };
        lean_gemm::gemm(m, n, k, av, bv, c.add(i * stride_c), n, alpha, accumulate != 0, bias, scratch);
    }
}

/// Rank, shape and K stride vectors from the argument block (shape at 0, strides k at 8 + 8k).
unsafe fn nd<const K: usize>(rank: usize) -> Nd<K> {
    let mut v = Nd { rank, shape: [1; MAX_RANK], strides: [[0; MAX_RANK]; K] };
    for d in 0..rank {
        v.shape[d] = ARGS[d] as usize;
        for k in 0..K {
            v.strides[k][d] = ARGS[8 + 8 * k + d] as usize;
        }
    }
    v
}

/// Unary f32 map (op codes in lean_elementwise.rs); 1 = unknown op.
#[no_mangle]
pub unsafe extern "C" fn lean_unary(op: u32, x: *const f32, out: *mut f32, n: usize) -> i32 {
    ew::unary(op, x, out, n)
}

/// out = g·f′(x) for SILU / GELU_TANH; 1 = unsupported op.
#[no_mangle]
pub unsafe extern "C" fn lean_unary_backward(op: u32, g: *const f32, x: *const f32, out: *mut f32, n: usize) -> i32 {
    ew::unary_backward(op, g, x, out, n)
}

/// Broadcasting binary op over the `rank`-dim shape in the argument block (strides a, b).
#[no_mangle]
pub unsafe extern "C" fn lean_binary(op: u32, dtype: u32, a: *const u8, b: *const u8, out: *mut u8, rank: usize) -> i32 {
    strided::binary(op, dtype, a, b, out, &nd::<2>(rank))
}

/// u8 logical not.
#[no_mangle]
pub unsafe extern "C" fn lean_not(x: *const u8, out: *mut u8, n: usize) {
    ew::not(x, out, n)
}

/// out = cond ? a : b over the shape in the argument block (strides cond, a, b).
#[no_mangle]
pub unsafe extern "C" fn lean_where(
    cond: *const u8, a: *const u8, b: *const u8, out: *mut u8, dtype: u32, rank: usize,
) -> i32 {
    strided::select(cond, a, b, out, dtype, &nd::<3>(rank))
}

/// dtype conversion; 1 = unsupported pair.
#[no_mangle]
pub unsafe extern "C" fn lean_cast(x: *const u8, from: u32, out: *mut u8, to: u32, n: usize) -> i32 {
    ew::cast(x, from, out, to, n)
}

/// out (contiguous) = x[offset + Σ idx·stride] over the shape in the argument block.
#[no_mangle]
pub unsafe extern "C" fn lean_copy_strided(x: *const u8, out: *mut u8, dtype: u32, rank: usize, offset: usize) -> i32 {
    strided::copy_strided(x, out, dtype, &nd::<1>(rank), offset, false)
}

/// out[offset + Σ idx·stride] = x (contiguous) over the shape in the argument block.
#[no_mangle]
pub unsafe extern "C" fn lean_copy_strided_out(
    x: *const u8, out: *mut u8, dtype: u32, rank: usize, offset: usize,
) -> i32 {
    strided::copy_strided(x, out, dtype, &nd::<1>(rank), offset, true)
}

#[no_mangle]
pub unsafe extern "C" fn lean_fill(out: *mut u8, dtype: u32, n: usize, value: f32) -> i32 {
    ew::fill(out, dtype, n, value)
}

#[no_mangle]
pub unsafe extern "C" fn lean_axpy(alpha: f32, x: *const f32, y: *mut f32, n: usize) {
    ew::axpy(alpha, x, y, n)
}

#[no_mangle]
pub unsafe extern "C" fn lean_scale(x: *const f32, alpha: f32, out: *mut f32, n: usize) {
    ew::scale(x, alpha, out, n)
}

#[no_mangle]
pub unsafe extern "C" fn lean_sum_squares(x: *const f32, n: usize) -> f64 {
    ew::sum_squares(x, n)
}

/// SUM / MEAN / MAX over the middle dim of [outer, red, inner]; 1 = unknown op.
#[no_mangle]
pub unsafe extern "C" fn lean_reduce(op: u32, x: *const f32, out: *mut f32, outer: usize, red: usize, inner: usize) -> i32 {
    reduce::reduce(op, x, out, outer, red, inner)
}

#[no_mangle]
pub unsafe extern "C" fn lean_softmax(x: *const f32, out: *mut f32, rows: usize, n: usize) {
    reduce::softmax(x, out, rows, n)
}

#[no_mangle]
pub unsafe extern "C" fn lean_log_softmax(x: *const f32, out: *mut f32, rows: usize, n: usize) {
    reduce::log_softmax(x, out, rows, n)
}

/// Returns 0, or i + 1 for the first out-of-range id i.
#[no_mangle]
pub unsafe extern "C" fn lean_gather_rows(
    table: *const f32, ids: *const i32, out: *mut f32, n_ids: usize, row_len: usize, table_rows: usize,
) -> usize {
    gather::gather_rows(table, ids, out, n_ids, row_len, table_rows)
}

/// Rows of a group-quantized table (bits 8 or 4); returns 0, or i + 1 for the first out-of-range id i.
#[no_mangle]
pub unsafe extern "C" fn lean_gather_rows_q(
    codes: *const u8, scales: *const f32, zeros: *const u8, ids: *const i32, out: *mut f32, n_ids: usize,
    row_len: usize, table_rows: usize, bits: u32, group: usize,
) -> usize {
    gather::gather_rows_q(codes, scales, zeros, ids, out, n_ids, row_len, table_rows, bits, group)
}

/// Returns 0, or i + 1 for the first out-of-range id i.
#[no_mangle]
pub unsafe extern "C" fn lean_scatter_add_rows(
    g: *const f32, ids: *const i32, out: *mut f32, n_ids: usize, row_len: usize, out_rows: usize,
) -> usize {
    gather::scatter_add_rows(g, ids, out, n_ids, row_len, out_rows)
}

/// Returns 0, or r + 1 for the first out-of-range index at row r.
#[no_mangle]
pub unsafe extern "C" fn lean_gather_last(x: *const f32, idx: *const i32, out: *mut f32, rows: usize, n: usize) -> usize {
    gather::gather_last(x, idx, out, rows, n)
}

/// Returns 0, or r + 1 for the first out-of-range index at row r.
#[no_mangle]
pub unsafe extern "C" fn lean_scatter_last(g: *const f32, idx: *const i32, out: *mut f32, rows: usize, n: usize) -> usize {
    gather::scatter_last(g, idx, out, rows, n)
}

#[no_mangle]
pub unsafe extern "C" fn lean_causal_mask(out: *mut u8, tq: usize, tk: usize) {
    gather::causal_mask(out, tq, tk)
}

/// keep_mask bits; seed and thresh (= round(keep·2²⁴)) arrive as f64 holding integers.
#[no_mangle]
pub unsafe extern "C" fn lean_keep_mask(out: *mut u8, n: usize, seed: f64, thresh: f64) {
    gather::keep_mask(out, n, seed as i64, thresh as i64)
}

#[no_mangle]
pub unsafe extern "C" fn lean_rms_norm(
    x: *const f32, w: *const f32, out: *mut f32, rows: usize, d: usize, eps: f32, offset: f32,
) {
    norm::rms_norm(x, w, out, rows, d, eps, offset)
}

#[no_mangle]
pub unsafe extern "C" fn lean_rms_norm_backward(
    g: *const f32, x: *const f32, w: *const f32, dx: *mut f32, dw: *mut f32, rows: usize, d: usize, eps: f32,
    offset: f32, accumulate_dw: u32,
) {
    norm::rms_norm_backward(g, x, w, dx, dw, rows, d, eps, offset, accumulate_dw != 0)
}

#[no_mangle]
pub unsafe extern "C" fn lean_layer_norm(
    x: *const f32, w: *const f32, b: *const f32, out: *mut f32, rows: usize, d: usize, eps: f32,
) {
    norm::layer_norm(x, w, b, out, rows, d, eps)
}

#[no_mangle]
pub unsafe extern "C" fn lean_layer_norm_backward(
    g: *const f32, x: *const f32, w: *const f32, dx: *mut f32, dw: *mut f32, db: *mut f32, rows: usize, d: usize,
    eps: f32, accumulate: u32,
) {
    norm::layer_norm_backward(g, x, w, dx, dw, db, rows, d, eps, accumulate != 0)
}

/// RoPE (backward = 0) or its transpose (backward = 1).
#[no_mangle]
pub unsafe extern "C" fn lean_rope(
    x: *const f32, cos: *const f32, sin: *const f32, out: *mut f32, b: usize, h: usize, t: usize, e: usize,
    tables_per_batch: u32, backward: u32,
) {
    norm::rope(x, cos, sin, out, b, h, t, e, tables_per_batch != 0, backward != 0)
}

/// gemm with a group-quantized B (see lean_gemm_q.rs); scratch as lean_gemm.
#[no_mangle]
pub unsafe extern "C" fn lean_gemm_q(
    a: *const f32, codes: *const u8, scales: *const f32, zeros: *const u8, c: *mut f32, bias: *const f32, m: usize,
    n: usize, k: usize, bits: u32, group: usize, trans_b: u32, alpha: f32, accumulate: u32, scratch: *mut f32,
) {
    let (rs, cs) = if trans_b != 0 { (1, k) } else { (n, 1) };
    let b = gemm_q::QView { codes, scales, zeros, bits, group, rs, cs };
    gemm_q::gemm_q(a, b, c, bias, m, n, k, alpha, accumulate != 0, scratch)
}

#[no_mangle]
pub unsafe extern "C" fn lean_pack_int4(codes: *const u8, out: *mut u8, n: usize) {
    gemm_q::pack_int4(codes, out, n)
}

/// Scratch f32 of the cross-entropy kernels for chunks of `chunk` rows.
#[no_mangle]
pub extern "C" fn lean_cross_entropy_scratch_floats(chunk: usize, v: usize, d: usize) -> usize {
    ce::scratch_floats(chunk, v, d)
}

/// Fused LM head + cross-entropy: Σ NLL into loss[0], per-row NLL and per-row lse (each null = skip);
/// returns 0, or r + 1 for the first label ≥ v.
#[no_mangle]
pub unsafe extern "C" fn lean_cross_entropy(
    h: *const f32, w: *const f32, labels: *const i32, loss: *mut f32, nll: *mut f32, rows: usize, d: usize,
    v: usize, chunk: usize, trans_w: u32, scratch: *mut f32, lse: *mut f32,
) -> usize {
    let hd = ce::Head { h, w, labels, rows, d, v, chunk: if chunk == 0 { 1 } else { chunk }, trans_w: trans_w != 0 };
    ce::cross_entropy(&hd, loss, nll, lse, scratch)
}

/// dh and dW (+)= of Σ_r g_r·NLL_r (g: per-row cotangents; null = skip); returns 0, or r + 1 for the
/// first label ≥ v.
#[no_mangle]
pub unsafe extern "C" fn lean_cross_entropy_backward(
    g: *const f32, h: *const f32, w: *const f32, labels: *const i32, dh: *mut f32, dw: *mut f32, rows: usize,
    d: usize, v: usize, chunk: usize, trans_w: u32, accumulate_dw: u32, scratch: *mut f32, lse: *const f32,
) -> usize {
    let hd = ce::Head { h, w, labels, rows, d, v, chunk: if chunk == 0 { 1 } else { chunk }, trans_w: trans_w != 0 };
    ce::cross_entropy_backward(g, &hd, lse, dh, dw, accumulate_dw != 0, scratch)
}

/// Scratch f32 of lean_attention (backward = 0) or lean_attention_backward (1).
#[no_mangle]
pub extern "C" fn lean_attention_scratch_floats(tq: usize, tk: usize, e: usize, backward: u32) -> usize {
    attn::scratch_floats(tq, tk, e, backward != 0)
}

/// Causal / sliding-window GQA attention forward (see lean_attention.rs); mask null = no padding.
#[no_mangle]
pub unsafe extern "C" fn lean_attention(
    q: *const f32, k: *const f32, v: *const f32, mask: *const i32, out: *mut f32, lse: *mut f32, b: usize, h: usize,
    kvh: usize, tq: usize, tk: usize, e: usize, scale: f32, window: usize, scratch: *mut f32,
) {
    let g = attn::Geo { b, h, kvh, tq, tk, e, scale, window, mask };
    attn::attention(q, k, v, out, lse, &g, scratch)
}

/// Attention backward: dq, dk, dv overwritten (see lean_attention_bwd.rs).
#[no_mangle]
pub unsafe extern "C" fn lean_attention_backward(
    dout: *const f32, q: *const f32, k: *const f32, v: *const f32, mask: *const i32, out: *const f32,
    lse: *const f32, dq: *mut f32, dk: *mut f32, dv: *mut f32, b: usize, h: usize, kvh: usize, tq: usize, tk: usize,
    e: usize, scale: f32, window: usize, scratch: *mut f32,
) {
    let g = attn::Geo { b, h, kvh, tq, tk, e, scale, window, mask };
    attn_bwd::attention_backward(dout, q, k, v, out, lse, dq, dk, dv, &g, scratch)
}

/// One fused AdamW step in place (see lean_elementwise.rs).
#[no_mangle]
pub unsafe extern "C" fn lean_adamw(
    w: *mut f32, g: *const f32, m: *mut f32, v: *mut f32, n: usize, b1: f32, c1: f32, b2: f32, c2: f32, eps: f32,
    keep: f32, step_size: f32, sqrt_bc2: f32,
) {
    ew::adamw(w, g, m, v, n, b1, c1, b2, c2, eps, keep, step_size, sqrt_bc2)
}
