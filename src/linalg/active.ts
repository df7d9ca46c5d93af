/**
 * @module The kernel set the optimizers and K-FAC call: the WASM SIMD kernels (`wasm/kernels.wasm`),
 * loaded when this module is first imported, so no entry point has a switch to remember. Where the
 * runtime cannot compile WASM bytes (Cloudflare Workers, Vercel Edge) the load falls back to the
 * plain-TS references with a warning; pass the precompiled module there with {@link setKernels}.
 * Tests pick the references (`referenceKernels`) the same way.
 */
import { type LinalgKernels, referenceKernels } from "./mod.ts";
import { loadKernels } from "../../wasm/mod.ts";

let active: LinalgKernels = await loadKernels().catch((e) => {
  console.error(`WASM kernels unavailable (${(e as Error).message}); using the TypeScript references`);
  return referenceKernels;
});

/**
 * The kernels in use: the WASM kernels, unless {@link setKernels} chose others.
 *
 * @example
 * ```ts
 * const { values } = kernels().eighSym(new Float32Array([2, 1, 1, 2]), 2);
 * ```
 */
export function kernels(): LinalgKernels {
  return active;
}

/**
 * Use other kernels from now on and return the ones replaced: the TS references in a test, or the
 * WASM kernels from a precompiled module where the runtime refuses to compile bytes.
 *
 * @example
 * ```ts ignore
 * import { kernelsFromModule } from "../../wasm/mod.ts";
 * import wasm from "./kernels.wasm"; // a precompiled WebAssembly.Module (Workers)
 * setKernels(kernelsFromModule(wasm));
 * ```
 */
export function setKernels(k: LinalgKernels): LinalgKernels {
  const previous = active;
  active = k;
  return previous;
}
