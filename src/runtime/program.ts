/**
 * @module What the compile seam hands out: a compiled program and its options, as types of their own so
 * that backends and callers share them without importing each other.
 */
import type { Backend } from "./backend.ts";
import type { HostTensor } from "./session.ts";

/** Options of {@link compile}. */
export interface CompileOptions {
  /** Backend (default `wasm`). */
  backend?: Backend;
  /** Intra-op threads of the onnxruntime backends (default: theirs). */
  threads?: number;
  /** onnxruntime sessions without memory arena / patterns (see `SessionOptions.lowMemory`). */
  lowMemory?: boolean;
  /**
   * Upper bounds of the symbolic dims (e.g. `{ batch: 8, seq: 256 }`): `lean` sizes its arena for them
   * once, so no step allocates. Runs with larger dims than these grow the arena once (and say so).
   */
  dims?: Record<string, number>;
  /** `lean`: recompute each transformer block's forward in the backward pass (default: where it helps). */
  recompute?: boolean;
}

/** Per-run options of {@link Program.run}. */
export interface RunOptions {
  /**
   * Called with each streamed output as soon as it is final (on `lean`, before later ops overwrite its
   * memory: the tensor's data is valid only during the call — copy what you keep). Streamed outputs are
   * not in the returned record. onnxruntime backends call it after the run.
   */
  onOutput?: (name: string, t: HostTensor) => void;
  /** Which requested outputs go to `onOutput` (default: all of them). */
  stream?: (name: string) => boolean;
}

/** The memory a program needs, itemised in bytes. */
export interface MemoryPlan {
  /** True when the figures come from a static plan (lean), false for an estimate. */
  exact: boolean;
  /** Intermediates: one arena (lean) or the estimated activations and gradients. */
  arenaBytes: number;
  /** Graph inputs held in the program's memory (weights, token feeds). */
  inputBytes: number;
  /** Requested outputs kept until returned. */
  outputBytes: number;
}

/** A compiled graph. */
export interface Program {
  readonly backend: Backend;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Run with `feeds` (covering `inputNames`); returns the requested outputs (default all). */
  run(
    feeds: Record<string, HostTensor>,
    outputs?: readonly string[],
    opts?: RunOptions,
  ): Promise<Record<string, HostTensor>>;
  /** Free the program's native / WASM memory. */
  release(): Promise<void>;
}
