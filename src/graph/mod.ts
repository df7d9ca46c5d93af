/** @module The graph IR: ops with ONNX lowerings and VJPs, composite layers, autodiff, lowering. */
export { type Dim, type DType, Tensor } from "./ir.ts";
export * as ops from "./ops.ts";
export * as nn from "./nn.ts";
export { grad } from "./autodiff.ts";
export { type LoweredGraph, lowerGraph } from "./lower.ts";
