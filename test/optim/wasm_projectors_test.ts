/** The projectors give the same projections on the WASM kernels as on the TS references. */
import { GaLoreProjector } from "../../src/optim/galore.ts";
import { DctProjector } from "../../src/optim/dct.ts";
import { kernels, useWasmKernels } from "../../src/linalg/active.ts";
import { referenceKernels } from "../../src/linalg/mod.ts";
import { assertClose, randn, rng } from "../_util.ts";
import assert from "node:assert/strict";

Deno.test("GaLore and DCT projections: WASM kernels = TS references", async () => {
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
  assert.equal(kernels(), referenceKernels);
  const ref = run();
  await useWasmKernels();
  assert.notEqual(kernels(), referenceKernels);
  run().forEach((x, i) => assertClose(x, ref[i], { atol: 1e-4, rtol: 1e-3, label: `output ${i}` }));
});
