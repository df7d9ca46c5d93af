/**
 * @module Parameter specs shared by the model builders: HF names, storage shapes and the
 * initialisation used for random init (normal(0, 0.02), zero biases, unit norm gains, GPT-2's
 * residual projections scaled by 1/√(2L) as in the GPT-2 paper and nanoGPT).
 */
import type { Tensor } from "../graph/ir.ts";
import { add, input } from "../graph/ops.ts";

/** How a parameter is initialised at random init. */
export type Init = { normal: number } | { uniform: number } | "zeros" | "ones";

/** One parameter of a model: its HF name, storage shape and random init. */
export interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
}

/**
 * A hook on every linear layer: given the module path (HF names, e.g. `model.layers.0.self_attn.q_proj`),
 * its input x (…, in) and the table, returns a term (…, out) to add to the layer's output (LoRA), or undefined.
 * `y` is the layer's own output (…, out), bias included, before that term (K-FAC takes ∂L/∂y there).
 */
export type LinearAdapter = (
  module: string,
  x: Tensor,
  inDim: number,
  outDim: number,
  p: ParamTable,
  y: Tensor,
) => Tensor | undefined;

/** Where a weight comes from in the graph, when not a float32 input (e.g. INT8 codes dequantized in-graph). */
export type WeightSource = (name: string, shape: number[]) => Tensor | undefined;

/** Collects parameter specs and creates their graph inputs (named by the HF key). */
export class ParamTable {
  readonly specs: ParamSpec[] = [];
  readonly inputs: Map<string, Tensor> = new Map();

  /** `training`: the graph computes gradients (LoRA dropout is active only then). */
  constructor(readonly adapter?: LinearAdapter, readonly source?: WeightSource, readonly training = false) {}

  /** `y` plus the adapter's term for linear `module` (input `x`), if an adapter targets it. */
  adapt(module: string, x: Tensor, y: Tensor, inDim: number, outDim: number): Tensor {
    const d = this.adapter?.(module, x, inDim, outDim, this, y);
    return d ? add(y, d) : y;
  }

  /** Declare a parameter and return its graph input. */
  add(name: string, shape: number[], init: Init): Tensor {
    if (this.inputs.has(name)) return this.inputs.get(name)!;
    const t = this.source?.(name, shape) ?? input(name, "float32", shape);
    this.specs.push({ name, shape, init });
    this.inputs.set(name, t);
    return t;
  }
}

/** A seeded standard-normal generator (xorshift128+ and Box–Muller): reproducible random init. */
export function normalRng(seed: number): () => number {
  let s0 = (seed ^ 0x9e3779b9) >>> 0 || 1, s1 = (seed * 2654435761) >>> 0 || 2;
  const u = () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    s1 = x >>> 0;
    return ((s0 + s1) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const a = u() || 1e-12, b = u();
    const r = Math.sqrt(-2 * Math.log(a));
    spare = r * Math.sin(2 * Math.PI * b);
    return r * Math.cos(2 * Math.PI * b);
  };
}

/** Random weights for `specs`, reproducible from `seed`. */
export function initParams(specs: readonly ParamSpec[], seed = 0): Map<string, Float32Array> {
  const randn = normalRng(seed);
  const out = new Map<string, Float32Array>();
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (s.init === "ones") a.fill(1);
    else if (s.init !== "zeros" && "uniform" in s.init) {
      const b = s.init.uniform; // uniform(−b, b) from the same stream: Φ(z) is uniform for z ~ N(0,1)
      for (let i = 0; i < n; i++) a[i] = b * (2 * phi(randn()) - 1);
    } else if (s.init !== "zeros") {
      const std = s.init.normal;
      for (let i = 0; i < n; i++) a[i] = randn() * std;
    }
    out.set(s.name, a);
  }
  return out;
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e-7). */
function phi(z: number): number {
  const x = Math.abs(z) / Math.SQRT2, t = 1 / (1 + 0.3275911 * x);
  const erf = 1 -
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) *
      Math.exp(-x * x);
  return 0.5 * (1 + (z < 0 ? -erf : erf));
}
