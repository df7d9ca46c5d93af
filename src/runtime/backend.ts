/**
 * @module The backends that execute graphs, as a type of its own so that options, schemas and
 * algorithms can name a backend without importing the runtime that implements it.
 */

/** The backends, for validation and help texts. */
export const BACKENDS = ["wasm", "webgpu", "node"] as const;
/** Which onnxruntime build executes graphs. */
export type Backend = typeof BACKENDS[number];
/** The backend of a call that names none: onnxruntime-web's WASM build, which runs on every edge. */
export const DEFAULT_BACKEND: Backend = "wasm";
