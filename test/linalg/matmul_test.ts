/** WASM matmul (N and T) equals the TS reference. */
import { loadKernels } from "../../wasm/mod.ts";
import { referenceKernels } from "../../src/linalg/mod.ts";
import { assertClose, randn, rng } from "../_util.ts";

Deno.test("wasm matmul: A·B and Aᵀ·B match the TS reference on ragged sizes", async () => {
  const k = await loadKernels();
  for (const [m, kk, n] of [[1, 1, 1], [5, 7, 3], [17, 33, 9], [64, 130, 257]]) {
    const r = rng(m * 100 + n);
    const a = randn(m * kk, r), b = randn(kk * n, r);
    assertClose(k.matmul(a, b, m, kk, n), referenceKernels.matmul(a, b, m, kk, n), {
      atol: 1e-4,
      label: `N ${m}×${kk}×${n}`,
    });
    const at = randn(kk * m, r);
    assertClose(k.matmul(at, b, m, kk, n, true), referenceKernels.matmul(at, b, m, kk, n, true), {
      atol: 1e-4,
      label: `T ${m}×${kk}×${n}`,
    });
  }
});
