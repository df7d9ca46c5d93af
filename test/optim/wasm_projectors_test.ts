/**
 * The projectors run on the WASM kernels with nothing to call first, and give the same projections
 * as on the TS references (a test-only choice).
 */
import { GaLoreProjector } from "../../src/optim/galore.ts";
import { DctProjector } from "../../src/optim/dct.ts";
import { kernels, setKernels } from "../../src/linalg/active.ts";
import { WasmKernels } from "../../wasm/mod.ts";
import { referenceKernels } from "../../src/linalg/mod.ts";
import { assertClose, randn, rng } from "../_util.ts";
import assert from "node:assert/strict";

Deno.test("GaLore and DCT projections: the default kernels are WASM and equal the TS references", () => {
  const run = () =>
    [[40, 24], [24, 40]].flatMap(([m, n]) => {
      const g = randn(m * n, rng(m));
      const out = [];
      for (
        const p of [new GaLoreProjector(m, n, { rank: 5, scale: 1 }), new DctProjector(m, n, { rank: 5 })]
      ) {
        const r = p.project(g, 0);
        out.push(r, p.projectBack(r));
      }
      return out;
    });
  assert.ok(kernels() instanceof WasmKernels);
  const wasm = run();
  const previous = setKernels(referenceKernels);
  try {
    run().forEach((x, i) => assertClose(wasm[i], x, { atol: 1e-4, rtol: 1e-3, label: `output ${i}` }));
  } finally {
    setKernels(previous);
  }
});
