//! Low-rank Adam inner step (GaLore-AdamW, Zhao et al. 2024, galore_torch/adamw.py) on the
//! projected gradient R, in f32 with the exact operation order of src/linalg/adam.ts:
//!   m ← b1·m + c1·R,  v ← b2·v + c2·(R·R),  N = (a·m) / (√v + e)
//! The caller folds bias correction into (a, e): AdamW m̂/(√v̂+ε) is a = √bc2/bc1, e = ε·√bc2.
use core::arch::wasm32::*;

pub unsafe fn low_rank_adam(
    r: *const f32, m: *mut f32, v: *mut f32, out: *mut f32, len: usize, b1: f32, c1: f32, b2: f32, c2: f32,
    a: f32, e: f32,
) {
    let (b1v, c1v, b2v, c2v) = (f32x4_splat(b1), f32x4_splat(c1), f32x4_splat(b2), f32x4_splat(c2));
    let (av, ev) = (f32x4_splat(a), f32x4_splat(e));
    let mut i = 0;
    while i + 4 <= len {
        let (mp, vp) = (m.add(i) as *mut v128, v.add(i) as *mut v128);
        let g = v128_load(r.add(i) as *const v128);
        let mm = f32x4_add(f32x4_mul(b1v, v128_load(mp)), f32x4_mul(c1v, g));
        let vv = f32x4_add(f32x4_mul(b2v, v128_load(vp)), f32x4_mul(c2v, f32x4_mul(g, g)));
        v128_store(mp, mm);
        v128_store(vp, vv);
        let nn = f32x4_div(f32x4_mul(av, mm), f32x4_add(f32x4_sqrt(vv), ev));
        v128_store(out.add(i) as *mut v128, nn);
        i += 4;
    }
    while i < len {
        let g = *r.add(i);
        let mm = b1 * *m.add(i) + c1 * g;
        let vv = b2 * *v.add(i) + c2 * (g * g);
        *m.add(i) = mm;
        *v.add(i) = vv;
        *out.add(i) = (a * mm) / (crate::math::sqrt32(vv) + e);
        i += 1;
    }
}
