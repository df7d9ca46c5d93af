/**
 * @module The lean device: one WebAssembly linear memory and the kernels that compute in it. It owns
 * the memory's layout above the kernels' static data: stored tensors (weights, quantized codes,
 * constants) and one shared arena that every program plans its intermediates into (programs of a
 * device run one at a time). The memory is reserved once (untouched pages cost no resident memory),
 * so the typed-array views it hands out stay valid; growth past the reservation would detach them.
 */
import type { LeanKernels } from "./contract.ts";

const PAGE = 65536;
const ALIGN = 64;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** What the device's memory holds, in bytes. */
export interface DeviceUsage {
  /** Linear memory size (what the process pays for). */
  memoryBytes: number;
  /** Stored tensors (weights, codes, constants). */
  residentBytes: number;
  /** The shared arena. */
  arenaBytes: number;
}

/** A resident tensor: an allocation that lives until freed. */
export interface Resident {
  readonly offset: number;
  readonly bytes: number;
}

/** Bytes a device reserves up front: growth never happens below this, so views never detach. */
export const DEFAULT_RESERVE = 4 * 1024 ** 3 - PAGE;

/**
 * One memory + kernels; create with {@link LeanDevice.create}.
 *
 * @example
 * ```ts ignore
 * const dev = await LeanDevice.create();
 * const w = dev.store(new Float32Array([1, 2, 3])); // a view into device memory
 * ```
 */
export class LeanDevice {
  /** Free blocks [offset, bytes], sorted by offset, first fit. */
  #free: [number, number][] = [];
  #top: number;
  #arena: Resident = { offset: 0, bytes: 0 };
  #storedBytes = 0;
  /** Frees a stored tensor's block once its view is garbage-collected. */
  readonly #registry = new FinalizationRegistry<Resident>((r) => {
    this.#storedBytes -= r.bytes;
    this.free(r);
  });
  /** Bumped on every growth past the reservation: views taken before are detached. */
  generation = 0;

  /**
   * `reserve`: grow the memory to this many bytes at once. Linear memory that is never touched costs no
   * resident memory, and a memory that never grows never detaches the views handed out.
   */
  constructor(readonly kernels: LeanKernels, readonly memory: WebAssembly.Memory, reserve = 0) {
    this.#top = align(kernels.heapBase());
    if (reserve > memory.buffer.byteLength) {
      memory.grow(Math.floor((reserve - memory.buffer.byteLength) / PAGE));
    }
  }

  /**
   * A device over a new instance of wasm/kernels.wasm (or `source`: a precompiled module for Workers),
   * reserving `reserve` bytes (default {@link DEFAULT_RESERVE}). With `reference`, the plain-TS reference
   * kernels over a plain memory (tests).
   */
  static async create(
    opts: { source?: WebAssembly.Module | BufferSource | URL; reference?: boolean; reserve?: number } = {},
  ): Promise<LeanDevice> {
    const reserve = opts.reserve ?? DEFAULT_RESERVE;
    if (opts.reference) {
      const { ReferenceLeanKernels } = await import("./reference.ts");
      const memory = new WebAssembly.Memory({ initial: 1 });
      return new LeanDevice(new ReferenceLeanKernels(memory, 1024), memory, Math.min(reserve, 256 << 20));
    }
    const { instantiateLean } = await import("./kernels.ts");
    const { kernels, memory } = await instantiateLean(opts.source);
    return new LeanDevice(kernels, memory, reserve);
  }

  /** Bytes used: the linear memory's high-water mark, stored tensors and the arena. */
  usage(): DeviceUsage {
    return { memoryBytes: this.#top, residentBytes: this.#storedBytes, arenaBytes: this.#arena.bytes };
  }

  #grow(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    this.memory.grow(Math.ceil((end - have) / PAGE));
    this.generation++;
  }

  /** Allocate `bytes` (64-byte aligned, first fit, growing the memory if needed). */
  alloc(bytes: number): Resident {
    const size = align(Math.max(bytes, 1));
    for (let i = 0; i < this.#free.length; i++) {
      const [off, len] = this.#free[i];
      if (len < size) continue;
      if (len === size) this.#free.splice(i, 1);
      else this.#free[i] = [off + size, len - size];
      return { offset: off, bytes: size };
    }
    const off = this.#top;
    this.#grow(off + size);
    this.#top = off + size;
    return { offset: off, bytes: size };
  }

  /** Return an allocation to the free list (merging neighbours). */
  free(r: Resident): void {
    if (r.bytes === 0) return;
    const blocks = [...this.#free, [r.offset, r.bytes] as [number, number]].sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const b of blocks) {
      const last = merged[merged.length - 1];
      if (last && last[0] + last[1] === b[0]) last[1] += b[1];
      else merged.push([b[0], b[1]]);
    }
    // a free block at the top shrinks the used region instead
    const tail = merged[merged.length - 1];
    if (tail && tail[0] + tail[1] === this.#top) {
      this.#top = tail[0];
      merged.pop();
    }
    this.#free = merged;
  }

  /** The shared arena, at least `bytes` long (reallocated, contents lost, when it must grow). */
  arena(bytes: number): Resident {
    if (bytes > this.#arena.bytes) {
      this.free(this.#arena);
      this.#arena = this.alloc(bytes);
    }
    return this.#arena;
  }

  /**
   * A copy of `data` in device memory, as a view of the same type; its block is freed when the view is
   * garbage-collected. Programs read such views in place (no copy per run).
   */
  store<T extends Float32Array | Int32Array | Uint8Array>(data: T): T {
    const r = this.alloc(data.byteLength);
    const Ctor = data.constructor as { new (b: ArrayBufferLike, o: number, n: number): T };
    const view = new Ctor(this.memory.buffer, r.offset, data.length);
    view.set(data);
    this.#storedBytes += r.bytes;
    this.#registry.register(view, r);
    return view;
  }

  /** A zeroed f32 array in device memory; its block is freed when the array is garbage-collected. */
  float32(n: number): Float32Array {
    const r = this.alloc(4 * n);
    const view = new Float32Array(this.memory.buffer, r.offset, n);
    view.fill(0);
    this.#storedBytes += r.bytes;
    this.#registry.register(view, r);
    return view;
  }

  /**
   * A zeroed byte array in device memory (e.g. quantized codes), with `slack` bytes allocated past its end;
   * freed when it is garbage-collected.
   */
  uint8(n: number, slack = 0): Uint8Array {
    const r = this.alloc(n + slack);
    const view = new Uint8Array(this.memory.buffer, r.offset, n);
    view.fill(0);
    this.#storedBytes += r.bytes;
    this.#registry.register(view, r);
    return view;
  }

  /**
   * Quantize `x` (a view into this memory) with deterministic rounding into `q`'s arrays (views into this
   * memory too, `q.data` from {@link uint8} with 4 bytes of slack): no copy crosses the memory's boundary.
   */
  quantizeInto(
    x: Float32Array,
    q: { bits: 4 | 8; groupSize: number; data: Uint8Array; scales: Float32Array; zeros: Uint8Array },
  ): void {
    for (const a of [x, q.data, q.scales, q.zeros]) {
      if (!this.owns(a)) throw new Error("quantizeInto: every array must live in the device's memory");
    }
    this.kernels.quantize(
      x.byteOffset,
      x.length,
      q.bits,
      q.groupSize,
      q.data.byteOffset,
      q.scales.byteOffset,
      q.zeros.byteOffset,
    );
  }

  /**
   * Move a weights map into device memory in place: each entry becomes a device view (host copies can
   * then be collected). Entries already on the device stay.
   *
   * @example
   * ```ts ignore
   * device.adopt(model.weights); // training on `lean` now reads the weights without copies
   * ```
   */
  adopt(weights: Map<string, Float32Array>): void {
    for (const [k, v] of weights) if (!this.owns(v)) weights.set(k, this.store(v));
  }

  /** Whether `data` is a view into this device's current memory (fed without a copy). */
  owns(data: ArrayBufferView): boolean {
    return data.buffer === this.memory.buffer;
  }

  /** f32 view of n elements at a byte offset. */
  f32(offset: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, offset, n);
  }
  /** i32 view. */
  i32(offset: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, offset, n);
  }
  /** u8 view. */
  u8(offset: number, n: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, offset, n);
  }
}
