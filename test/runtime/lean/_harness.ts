/** Test harness: one WASM lean instance and one reference over a mirrored buffer, same offsets. */
import {
  instantiateLean,
  type LeanKernels,
  type WasmLeanKernels,
} from "../../../src/runtime/lean/kernels.ts";
import { ReferenceLeanKernels } from "../../../src/runtime/lean/reference.ts";
import { assertClose, randn, rng } from "../../_util.ts";

/** Tensors written to both memories at the same byte offsets; kernels run on both. */
export class Pair {
  readonly ref: ReferenceLeanKernels;
  readonly refBuf: ArrayBuffer;
  #top: number;
  readonly base: number;
  rand: () => number;

  constructor(readonly wasm: WasmLeanKernels, readonly memory: WebAssembly.Memory, seed = 1) {
    this.base = wasm.heapBase();
    this.#top = this.base;
    this.refBuf = new ArrayBuffer(memory.buffer.byteLength);
    this.ref = new ReferenceLeanKernels({ buffer: this.refBuf }, this.base);
    this.rand = rng(seed);
  }

  /** Forget every allocation. */
  reset(): void {
    this.#top = this.base;
  }
  /** `bytes` at a 64-byte-aligned offset (plus `misalign` bytes, to test unaligned pointers). */
  alloc(bytes: number, misalign = 0): number {
    const p = ((this.#top + 63) & ~63) + misalign;
    this.#top = p + bytes;
    if (this.#top > this.refBuf.byteLength) throw new Error(`harness out of memory at ${this.#top}`);
    return p;
  }
  #write(p: number, bytes: Uint8Array): void {
    new Uint8Array(this.memory.buffer, p, bytes.length).set(bytes);
    new Uint8Array(this.refBuf, p, bytes.length).set(bytes);
  }
  /** Copy a typed array into both memories; returns its offset. */
  put(data: Float32Array | Int32Array | Uint8Array, misalign = 0): number {
    const p = this.alloc(data.byteLength, misalign);
    this.#write(p, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return p;
  }
  /** n uniform floats in [lo, hi) in both memories. */
  rnd(n: number, lo = -1, hi = 1, misalign = 0): number {
    return this.put(randn(n, this.rand, lo, hi), misalign);
  }
  /** n bytes of garbage (a pattern, so missed writes show) in both memories. */
  junk(bytes: number, misalign = 0): number {
    return this.put(Uint8Array.from({ length: bytes }, (_, i) => (i * 37 + 11) & 255), misalign);
  }
  /** Run the same kernel call on both implementations. */
  both(f: (k: LeanKernels) => void): void {
    f(this.wasm);
    f(this.ref);
  }
  f32(p: number, n: number, which: "wasm" | "ref"): Float32Array {
    return new Float32Array(which === "wasm" ? this.memory.buffer : this.refBuf, p, n).slice();
  }
  u8(p: number, n: number, which: "wasm" | "ref"): Uint8Array {
    return new Uint8Array(which === "wasm" ? this.memory.buffer : this.refBuf, p, n).slice();
  }
  i32(p: number, n: number, which: "wasm" | "ref"): Int32Array {
    return new Int32Array(which === "wasm" ? this.memory.buffer : this.refBuf, p, n).slice();
  }
  /** Assert the f32 region equals in both memories within tolerances. */
  close(p: number, n: number, label: string, atol = 1e-5, rtol = 1e-5): void {
    assertClose(this.f32(p, n, "wasm"), this.f32(p, n, "ref"), { atol, rtol, label });
  }
  /** Assert the byte region is identical in both memories. */
  same(p: number, bytes: number, label: string): void {
    const a = this.u8(p, bytes, "wasm"), b = this.u8(p, bytes, "ref");
    const at = a.findIndex((x, i) => x !== b[i]);
    if (at >= 0) throw new Error(`${label}: byte ${at} differs: wasm ${a[at]}, ref ${b[at]}`);
  }
}

/** A fresh instance with `mib` MiB above the heap base, mirrored by a reference. */
export async function pair(mib = 64, seed = 1): Promise<Pair> {
  const { kernels, memory } = await instantiateLean();
  const need = kernels.heapBase() + mib * (1 << 20) - memory.buffer.byteLength;
  if (need > 0) memory.grow(Math.ceil(need / 65536));
  return new Pair(kernels, memory, seed);
}
