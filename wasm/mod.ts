/**
 * @module Loader and typed wrappers for wasm/kernels.wasm (Rust → wasm32 SIMD128, built by
 * `deno task build:wasm` from wasm/kernels.rs). `WasmKernels` implements the same
 * {@link LinalgKernels} interface as the plain-TS references in src/linalg/. Each call resets the
 * module's bump arena, copies inputs in, runs, and copies outputs out; views over
 * `memory.buffer` are re-created after every call because memory may have grown.
 * Cloudflare Workers / Vercel Edge refuse to compile bytes at runtime: pass a precompiled
 * `WebAssembly.Module` (e.g. `import source mod from "./kernels.wasm"`) there.
 */
import {
  checkDim,
  checkMatrix,
  checkQuantized,
  type DctOptions,
  type DctSelection,
  type Eigh,
  type EighTop,
  eighTopArgs,
  type LinalgKernels,
  type Qr,
  quantArgs,
  type Quantized,
  type QuantizeOptions,
  type Svd,
  svdArgs,
  type SvdOptions,
} from "../src/linalg/types.ts";
import { dctArgs } from "../src/linalg/dct.ts";
import { host } from "../src/util/host.ts";

type Fn = (...args: number[]) => number;
interface Exports {
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  reset(): void;
  [kernel: string]: Fn | WebAssembly.Memory | unknown;
}

/**
 * WASM SIMD kernels; create with {@link loadKernels} or {@link kernelsFromModule}.
 *
 * @example
 * ```ts
 * const k = await loadKernels();
 * const { values, vectors } = k.eighSym(factor, 768);
 * ```
 */
export class WasmKernels implements LinalgKernels {
  readonly #x: Exports;

  constructor(instance: WebAssembly.Instance) {
    this.#x = instance.exports as unknown as Exports;
  }

  /** Current size of the module's linear memory in bytes (it grows, never shrinks). */
  get memoryBytes(): number {
    return this.#x.memory.buffer.byteLength;
  }

  #alloc(bytes: number): number {
    const p = this.#x.alloc(bytes) >>> 0;
    if (p === 0) throw new Error(`wasm kernels: out of memory allocating ${bytes} bytes`);
    return p;
  }
  #in(a: Float32Array | Uint8Array): number {
    const p = this.#alloc(a.byteLength);
    new Uint8Array(this.#x.memory.buffer, p, a.byteLength).set(
      new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
    );
    return p;
  }
  #f32(p: number, n: number): Float32Array {
    return new Float32Array(this.#x.memory.buffer, p, n).slice();
  }
  #call(name: string, ...args: number[]): number {
    try {
      return (this.#x[name] as Fn)(...args);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        throw new Error(`wasm kernel ${name} trapped (out of memory?): ${e.message}`);
      }
      throw e;
    }
  }

  /** See src/linalg/matmul.ts (`transA`: A is stored k×m and used transposed). */
  matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, transA = false): Float32Array {
    checkMatrix("a", a, transA ? k : m, transA ? m : k);
    checkMatrix("b", b, k, n);
    this.#x.reset();
    const pa = this.#in(a), pb = this.#in(b), pc = this.#alloc(4 * m * n);
    this.#call("matmul", m, n, k, pa, transA ? 1 : 0, pb, pc);
    return this.#f32(pc, m * n);
  }

  /** See src/linalg/svd.ts `qrOrthonormalize`. */
  qrOrthonormalize(a: Float32Array, m: number, k: number, opts: { seed?: number } = {}): Qr {
    checkDim("m", m);
    checkDim("k", k);
    checkMatrix("a", a, m, k);
    if (k > m) throw new Error(`k must be ≤ m, got k = ${k} > m = ${m}`);
    this.#x.reset();
    const pa = this.#in(a), pq = this.#alloc(4 * m * k), pr = this.#alloc(4 * k * k);
    this.#call("qr_orthonormalize", pa, m, k, (opts.seed ?? 0) >>> 0, pq, pr);
    return { q: this.#f32(pq, m * k), r: this.#f32(pr, k * k) };
  }

  /** See src/linalg/svd.ts `svdTopR`. */
  svdTopR(a: Float32Array, m: number, n: number, r: number, opts: SvdOptions = {}): Svd {
    const { oversample, powerIters, seed, method } = svdArgs(a, m, n, r, opts);
    this.#x.reset();
    const pa = this.#in(a), pu = this.#alloc(4 * m * r), ps = this.#alloc(4 * r), pv = this.#alloc(4 * r * n);
    this.#call("svd_top_r", pa, m, n, r, oversample, powerIters, seed, method === "gram" ? 1 : 0, pu, ps, pv);
    return { u: this.#f32(pu, m * r), s: this.#f32(ps, r), vt: this.#f32(pv, r * n) };
  }

  /** See src/linalg/eigh.ts `eighSym`. */
  eighSym(a: Float32Array, n: number): Eigh {
    checkDim("n", n);
    checkMatrix("a", a, n, n);
    this.#x.reset();
    const pa = this.#in(a), pw = this.#alloc(4 * n), pq = this.#alloc(4 * n * n);
    if (this.#call("eigh_sym", pa, n, pw, pq) !== 0) {
      throw new Error("eighSym: QL iteration did not converge (non-finite input?)");
    }
    return { values: this.#f32(pw, n), vectors: this.#f32(pq, n * n) };
  }

  /** See src/linalg/eigh_top.ts `eighTopR`. */
  eighTopR(a: Float32Array, n: number, r: number, opts: { seed?: number } = {}): EighTop {
    eighTopArgs(a, n, r);
    this.#x.reset();
    const pa = this.#in(a), pw = this.#alloc(4 * r), pq = this.#alloc(4 * n * r);
    if (this.#call("eigh_top_r", pa, n, r, (opts.seed ?? 0) >>> 0, pw, pq) !== 0) {
      throw new Error("eighTopR: QL iteration did not converge (non-finite input?)");
    }
    return { values: this.#f32(pw, r), vectors: this.#f32(pq, n * r) };
  }

  /** See src/linalg/dct.ts `dctBasis`. */
  dctBasis(n: number): Float32Array {
    checkDim("n", n);
    this.#x.reset();
    const p = this.#alloc(4 * n * n);
    this.#call("dct_basis", n, p);
    return this.#f32(p, n * n);
  }

  /** See src/linalg/dct.ts `dctTopR`. */
  dctTopR(
    g: Float32Array,
    m: number,
    n: number,
    basis: Float32Array,
    r: number,
    opts: DctOptions = {},
  ): DctSelection {
    const { side, norm } = dctArgs(g, m, n, basis, r, opts);
    this.#x.reset();
    const pg = this.#in(g), pb = this.#in(basis), pi = this.#alloc(4 * r), ps = this.#alloc(4 * r);
    const len = side === "right" ? m * r : r * n, pp = this.#alloc(4 * len);
    this.#call("dct_top_r", pg, m, n, pb, side === "right" ? 0 : 1, r, norm, pi, ps, pp);
    const indices = new Int32Array(this.#x.memory.buffer, pi, r).slice();
    return { side, indices, scores: this.#f32(ps, r), projected: this.#f32(pp, len) };
  }

  /** See src/linalg/dct_fft.ts `dctTopRFft`. */
  dctTopRFft(g: Float32Array, m: number, n: number, r: number, opts: DctOptions = {}): DctSelection {
    const { side, norm } = dctArgs(g, m, n, null, r, opts);
    this.#x.reset();
    const pg = this.#in(g), pi = this.#alloc(4 * r), ps = this.#alloc(4 * r);
    const len = side === "right" ? m * r : r * n, pp = this.#alloc(4 * len);
    this.#call("dct_top_r_fft", pg, m, n, side === "right" ? 0 : 1, r, norm, pi, ps, pp);
    const indices = new Int32Array(this.#x.memory.buffer, pi, r).slice();
    return { side, indices, scores: this.#f32(ps, r), projected: this.#f32(pp, len) };
  }

  /** See src/linalg/quant.ts `quantize`. */
  quantize(x: Float32Array, opts: QuantizeOptions = {}): Quantized {
    const { bits, groupSize, stochastic, seed } = quantArgs(x, opts);
    const len = x.length, groups = Math.ceil(len / groupSize), bytes = bits === 8 ? len : Math.ceil(len / 2);
    this.#x.reset();
    const px = this.#in(x),
      pq = this.#alloc(bytes + 4),
      ps = this.#alloc(4 * groups),
      pz = this.#alloc(groups);
    this.#call("quantize", px, len, bits, groupSize, stochastic ? 1 : 0, seed, pq, ps, pz);
    const buf = this.#x.memory.buffer;
    return {
      bits,
      groupSize,
      length: len,
      data: new Uint8Array(buf, pq, bytes).slice(),
      scales: this.#f32(ps, groups),
      zeros: new Uint8Array(buf, pz, groups).slice(),
    };
  }

  /** See src/linalg/quant.ts `dequantize`. */
  dequantize(q: Quantized): Float32Array {
    checkQuantized(q);
    this.#x.reset();
    const pq = this.#in(q.data),
      ps = this.#in(q.scales),
      pz = this.#in(q.zeros),
      po = this.#alloc(4 * q.length);
    this.#call("dequantize", pq, q.length, q.bits, q.groupSize, ps, pz, po);
    return this.#f32(po, q.length);
  }
}

/**
 * Instantiate the kernels from a precompiled module (synchronous; the edge-runtime path).
 *
 * @example
 * ```ts
 * const k = kernelsFromModule(await WebAssembly.compile(bytes));
 * ```
 */
export function kernelsFromModule(mod: WebAssembly.Module): WasmKernels {
  return new WasmKernels(new WebAssembly.Instance(mod, {}));
}

/**
 * Compile kernels.wasm from a `WebAssembly.Module` (returned as is), wasm bytes, or a URL (default:
 * kernels.wasm beside this file). Shared by {@link loadKernels} and the lean backend's loader.
 *
 * @example
 * ```ts
 * const mod = await compileKernels();
 * const k = kernelsFromModule(mod);
 * ```
 */
export async function compileKernels(
  source?: WebAssembly.Module | BufferSource | URL,
): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  // the default module is compiled once per process: the linalg kernels and the lean device share it
  if (source === undefined) return await (defaultModule ??= compileFrom(undefined));
  return await compileFrom(source);
}
let defaultModule: Promise<WebAssembly.Module> | undefined;

/**
 * Make `mod` (a precompiled kernels.wasm) the default module of {@link compileKernels}, before anything
 * loads the kernels: Cloudflare Workers refuse to compile WASM bytes, and a bundle has no kernels.wasm
 * beside it. Call it from a module the entry point imports first (its body runs before the linalg
 * kernels' top-level load).
 *
 * @example
 * ```ts ignore
 * import source kernels from "./kernels.wasm";
 * provideKernelsModule(kernels);
 * ```
 */
export function provideKernelsModule(mod: WebAssembly.Module): void {
  defaultModule = Promise.resolve(mod);
}

async function compileFrom(source?: BufferSource | URL): Promise<WebAssembly.Module> {
  let bytes: BufferSource;
  if (source === undefined || source instanceof URL) {
    const url = source ?? new URL("./kernels.wasm", import.meta.url);
    bytes = await host().readModuleFile(url);
  } else bytes = source;
  return await WebAssembly.compile(bytes);
}

/**
 * Load the kernels from a `WebAssembly.Module`, wasm bytes, or a URL (default: kernels.wasm beside
 * this file).
 *
 * @example
 * ```ts
 * const k = await loadKernels();
 * const { u, s, vt } = k.svdTopR(grad, 768, 3072, 128, { seed: 0 });
 * ```
 */
export async function loadKernels(source?: WebAssembly.Module | BufferSource | URL): Promise<WasmKernels> {
  return kernelsFromModule(await compileKernels(source));
}
