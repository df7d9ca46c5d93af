/** @module The optimizer interface the training loop and checkpoints use. */

/** An optimizer over named float32 parameters. */
export interface Optimizer {
  /** Steps taken (restored from checkpoints). */
  step: number;
  /** One update at learning rate `lr`, in place, for every parameter that has a gradient. */
  update(weights: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr: number): void;
  /** Named per-parameter state tensors (e.g. AdamW {m, v}), for checkpoints. */
  state(): Record<string, Map<string, Float32Array>>;
  /** Restore what {@link state} returned. */
  loadState(kinds: Record<string, Map<string, Float32Array>>): void;
  /** Bytes held by the state (measured from the arrays). */
  readonly stateBytes: number;
}
