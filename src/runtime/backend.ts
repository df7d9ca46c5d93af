/**
 * @module The backends that execute graphs, as a type of its own so that options, schemas and
 * algorithms can name a backend without importing the runtime that implements it.
 */

/** The backends, for validation and help texts. */
export const BACKENDS = ["wasm", "webgpu", "node", "lean"] as const;
/**
 * Which engine executes graphs: an onnxruntime build (`wasm`, `webgpu`, `node`) or `lean`, our own
 * executor on the WASM kernels in one planned arena (src/runtime/lean/).
 */
export type Backend = typeof BACKENDS[number];
/** The onnxruntime backends (the ones `createSession` serves). */
export const ORT_BACKENDS = ["wasm", "webgpu", "node"] as const;
/** The backend of a call that names none: onnxruntime-web's WASM build, which runs on every edge. */
export const DEFAULT_BACKEND: Backend = "wasm";
