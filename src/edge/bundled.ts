/**
 * @module What a bundle built by `deno task build:worker` ships beside its one ES module: the kernels as
 * a precompiled `WebAssembly.Module` (Workers refuse to compile WASM bytes) and the built-in model as a
 * data module. The build prepends `import __posttrain_kernels from "./kernels.wasm"` and
 * `import __posttrain_model from "./model.bin"` to the bundle, which binds the two names read here;
 * run unbundled (Deno) they are unbound and both exports are undefined. Importing this module first
 * hands the kernels to `wasm/mod.ts` before anything loads them.
 */
import { provideKernelsModule } from "../../wasm/mod.ts";

declare const __posttrain_kernels: WebAssembly.Module | undefined;
declare const __posttrain_model: ArrayBuffer | undefined;

/** The precompiled kernels module of the bundle, if this is one. */
export const bundledKernels: WebAssembly.Module | undefined = typeof __posttrain_kernels === "undefined"
  ? undefined
  : __posttrain_kernels;

/** The model pack of the bundle (see `model_pack.ts`), if this is one. */
export const bundledModel: Uint8Array | undefined = typeof __posttrain_model === "undefined"
  ? undefined
  : new Uint8Array(__posttrain_model);

if (bundledKernels) provideKernelsModule(bundledKernels);
