/**
 * @module The kernel set the optimizers call: the plain-TS references until `useWasmKernels()`
 * has loaded `wasm/kernels.wasm` (SIMD128), then the WASM kernels (same results, ~5–20× faster).
 */
import { type LinalgKernels, referenceKernels } from "./mod.ts";
import { loadKernels } from "../../wasm/mod.ts";

let active: LinalgKernels = referenceKernels;

/** The active kernels. */
export function kernels(): LinalgKernels {
  return active;
}

/**
 * Switch to the WASM kernels (idempotent); falls back to the references if WASM cannot load.
 *
 * @example
 * ```ts ignore
 * await useWasmKernels();
 * kernels().svdTopR(g, 768, 3072, 128);
 * ```
 */
export async function useWasmKernels(
  source?: WebAssembly.Module | BufferSource | URL,
): Promise<LinalgKernels> {
  if (active !== referenceKernels) return active;
  try {
    active = await loadKernels(source);
  } catch (e) {
    console.error(`WASM kernels unavailable (${(e as Error).message}); using the TypeScript references`);
  }
  return active;
}
