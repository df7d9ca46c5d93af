//! posttrain WASM linear-algebra kernels (crate root): the exported C ABI, a bump arena, and the
//! module list. Built by `deno task build:wasm` with Debian rustc 1.63 for wasm32-unknown-unknown,
//! `#![no_std]`, SIMD128 (`core::arch::wasm32`). Every export takes raw pointers into linear
//! memory that the TS loader (wasm/mod.ts) obtained from `alloc`; the loader calls `reset` before
//! each kernel, so one arena is reused by every call. Kernels allocate their scratch from the same
//! arena. Return codes: 0 = ok; see each export. TS references with the same math: src/linalg/.
#![no_std]

mod dct;
mod dct_fft;
mod eigh;
mod eigh_top;
mod fft;
mod gemm;
mod gemm64;
mod inverse_iteration;
mod lean;
mod lean_attention;
mod lean_attention_bwd;
mod lean_ce;
mod lean_elementwise;
mod lean_gather;
mod lean_gemm;
mod lean_gemm_q;
mod lean_math;
mod lean_norm;
mod lean_reduce;
mod lean_strided;
mod math;
mod qr;
mod qr_block;
mod quant;
mod sketch;
mod svd;
mod svd_gram;

use core::arch::wasm32::{memory_grow, memory_size, unreachable};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    unreachable()
}

extern "C" {
    static __heap_base: u8;
}

static mut NEXT: usize = 0;

/// Bump-allocate `bytes` (16-byte aligned), growing memory as needed; 0 when memory is exhausted.
#[no_mangle]
pub unsafe extern "C" fn alloc(bytes: usize) -> *mut u8 {
    if NEXT == 0 {
        NEXT = &__heap_base as *const u8 as usize;
    }
    let start = (NEXT + 15) & !15;
    let end = match start.checked_add(bytes) {
        Some(e) => e,
        None => return core::ptr::null_mut(),
    };
    let have = memory_size(0) * 65536;
    if end > have {
        let pages = (end - have + 65535) / 65536;
        if memory_grow(0, pages) == usize::MAX {
            return core::ptr::null_mut();
        }
    }
    NEXT = end;
    start as *mut u8
}

/// Forget every allocation (memory is kept, not shrunk).
#[no_mangle]
pub unsafe extern "C" fn reset() {
    NEXT = &__heap_base as *const u8 as usize;
}

/// Scratch buffer of `n` elements of `T` from the arena; traps (unreachable) when out of memory.
pub(crate) unsafe fn scratch<T>(n: usize) -> *mut T {
    let p = alloc(n * core::mem::size_of::<T>());
    if p.is_null() {
        unreachable()
    }
    p as *mut T
}

/// Q (m×k) with orthonormal columns and R (k×k) with A = QR; see qr.rs.
#[no_mangle]
pub unsafe extern "C" fn qr_orthonormalize(a: *const f32, m: usize, k: usize, seed: u32, q: *mut f32, r: *mut f32) {
    qr::qr_f32(a, m, k, seed, q, r)
}

/// Top-r SVD: method 0 randomized (Halko et al. 2011, Alg. 4.4), 1 exact via the small Gram
/// matrix; see svd.rs and svd_gram.rs.
#[no_mangle]
pub unsafe extern "C" fn svd_top_r(
    a: *const f32, m: usize, n: usize, r: usize, oversample: usize, power_iters: usize, seed: u32, method: u32,
    u: *mut f32, s: *mut f32, vt: *mut f32,
) {
    svd::svd_top_r(a, m, n, r, oversample, power_iters, seed, method, u, s, vt)
}

/// Symmetric eigendecomposition, ascending; returns 0, or 1 when QL did not converge.
#[no_mangle]
pub unsafe extern "C" fn eigh_sym(a: *const f32, n: usize, w: *mut f32, q: *mut f32) -> i32 {
    eigh::eigh_sym(a, n, w, q)
}

/// The r largest eigenpairs of sym(a), descending; returns 0, or 1 when QL did not converge.
#[no_mangle]
pub unsafe extern "C" fn eigh_top_r(a: *const f32, n: usize, r: usize, seed: u32, w: *mut f32, q: *mut f32) -> i32 {
    eigh_top::eigh_top_r(a, n, r, seed, w, q)
}

/// Orthonormal DCT-II matrix (n×n, rows = frequencies).
#[no_mangle]
pub unsafe extern "C" fn dct_basis(n: usize, out: *mut f32) {
    dct::dct_basis(n, out)
}

/// Top-r DCT columns by alignment score; side 0 = right (G·Q), 1 = left (Qᵀ·G).
#[no_mangle]
pub unsafe extern "C" fn dct_top_r(
    g: *const f32, m: usize, n: usize, basis: *const f32, side: u32, r: usize, norm: u32,
    idx: *mut i32, scores: *mut f32, proj: *mut f32,
) {
    dct::dct_top_r(g, m, n, basis, side, r, norm, idx, scores, proj)
}

/// dct_top_r with Q = dct_basis(N), by fast DCT-IIIs (Makhoul + mixed-radix FFT); no basis.
#[no_mangle]
pub unsafe extern "C" fn dct_top_r_fft(
    g: *const f32, m: usize, n: usize, side: u32, r: usize, norm: u32, idx: *mut i32, scores: *mut f32,
    proj: *mut f32,
) {
    dct_fft::dct_top_r_fft(g, m, n, side, r, norm, idx, scores, proj)
}

/// Asymmetric min-max group quantization (Q-GaLore); bits 4 (packed) or 8.
#[no_mangle]
pub unsafe extern "C" fn quantize(
    x: *const f32, len: usize, bits: u32, group: usize, stochastic: u32, seed: u32,
    q: *mut u8, scales: *mut f32, zeros: *mut u8,
) {
    quant::quantize(x, len, bits, group, stochastic != 0, seed, q, scales, zeros)
}

/// (q − z)·s per group.
#[no_mangle]
pub unsafe extern "C" fn dequantize(
    q: *const u8, len: usize, bits: u32, group: usize, scales: *const f32, zeros: *const u8, out: *mut f32,
) {
    quant::dequantize(q, len, bits, group, scales, zeros, out)
}

/// C (m×n) = op(A) · B (k×n), op(A) = A (m×k) when `trans_a` = 0, else Aᵀ with A stored k×m.
#[no_mangle]
pub unsafe extern "C" fn matmul(m: usize, n: usize, k: usize, a: *const f32, trans_a: u32, b: *const f32, c: *mut f32) {
    if trans_a == 0 {
        gemm::gemm(m, n, k, a, k, 1, b, n, c, n, false);
    } else {
        gemm::gemm(m, n, k, a, 1, m, b, n, c, n, false);
    }
}
