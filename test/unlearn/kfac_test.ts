/** K-FAC factors against direct per-token accumulation, EK-FAC refit against per-sequence gradients, and the
 * Kronecker preconditioner against a dense solve. */
import assert from "node:assert/strict";
import {
  buildFactorGraph,
  eigenFactors,
  fromLogical,
  KfacFitter,
  kfacLayers,
  toLogical,
} from "../../src/unlearn/kfac.ts";
import { Preconditioner } from "../../src/unlearn/precondition.ts";
import { tokenFeeds, weightFeeds } from "../../src/models/feeds.ts";
import { paramSpecs } from "../../src/models/model.ts";
import { initParams } from "../../src/models/params.ts";
import { ModelRunner } from "../../src/models/runner.ts";
import { makeBatch } from "../../src/data/batch.ts";
import { eighSym } from "../../src/linalg/mod.ts";
import { assertClose, denseSolve, rng, runGraph } from "../_util.ts";
import { randomBatch, tinyGpt2, tinyLlama } from "../models/_tiny.ts";

for (const [name, cfg] of [["llama", tinyLlama()], ["gpt2 (Conv1D + bias)", tinyGpt2()]] as const) {
  Deno.test(`K-FAC factors of a tiny ${name} match direct per-token accumulation`, async () => {
    const w = initParams(paramSpecs(cfg), 3);
    for (const v of w.values()) v.forEach((x, i) => (v[i] = x * 5));
    const batch = randomBatch(cfg.vocabSize, [7, 4, 6], 2); // ragged: pads must not count
    const layers = kfacLayers(cfg);
    const { outputs, specs } = buildFactorGraph(cfg, layers, { raw: true });
    const res = await runGraph(outputs, weightFeeds(specs, w, tokenFeeds(batch)));
    // Σ_t g_t ā_tᵀ is the weight gradient of the summed loss: ā and g really are the input and ∂L/∂s
    const runner = new ModelRunner(cfg, "node");
    const { grads } = await runner.lossAndGrad(w, batch, 1);
    await runner.release();
    const want = toLogical(layers, grads);
    const real = Number(batch.attentionMask.reduce((a, b) => a + b, 0n));
    for (const l of layers) {
      const a = res[`a:${l.module}`].data as Float32Array, g = res[`g:${l.module}`].data as Float32Array;
      const n = a.length / l.dIn;
      const dw = new Float64Array(l.dOut * l.dIn), A = new Float64Array(l.dIn * l.dIn);
      const S = new Float64Array(l.dOut * l.dOut);
      let rows = 0;
      for (let t = 0; t < n; t++) {
        const at = a.subarray(t * l.dIn, (t + 1) * l.dIn), gt = g.subarray(t * l.dOut, (t + 1) * l.dOut);
        if (at.some((x) => x !== 0)) rows++;
        for (let i = 0; i < l.dOut; i++) for (let j = 0; j < l.dIn; j++) dw[i * l.dIn + j] += gt[i] * at[j];
        for (let i = 0; i < l.dIn; i++) for (let j = 0; j < l.dIn; j++) A[i * l.dIn + j] += at[i] * at[j];
        for (let i = 0; i < l.dOut; i++) for (let j = 0; j < l.dOut; j++) S[i * l.dOut + j] += gt[i] * gt[j];
      }
      assert.equal(rows, real, `${l.module}: padded positions are masked out of ā`);
      assertClose(dw, want.get(l.module)!, { atol: 1e-4, rtol: 1e-3, label: `${l.module} Σ g āᵀ = ∇W` });
      assertClose(res[`A:${l.module}`].data as Float32Array, A, {
        atol: 1e-4,
        rtol: 1e-3,
        label: `A ${l.module}`,
      });
      assertClose(res[`S:${l.module}`].data as Float32Array, S, {
        atol: 1e-6,
        rtol: 1e-3,
        label: `S ${l.module}`,
      });
    }
    // the fitter averages A over real tokens and S over target tokens
    const fitter = new KfacFitter(cfg, layers, "node");
    const f = await fitter.factors(w, [batch], { empirical: true });
    assert.equal(f.tokens, real);
    assert.equal(f.targets, batch.targetTokens);
    const l = layers[1];
    assertClose(f.A.get(l.module)!, (res[`A:${l.module}`].data as Float32Array).map((x) => x / real), {
      label: "A mean",
    });
    assertClose(
      f.S.get(l.module)!,
      (res[`S:${l.module}`].data as Float32Array).map((x) => x / batch.targetTokens),
      { label: "S mean", atol: 1e-7 },
    );
    // round trip between storage and logical layouts
    const back = fromLogical(layers, toLogical(layers, grads));
    for (const [k, v] of back) assertClose(v, grads.get(k)!, { label: `layout ${k}` });
    await fitter.release();
  });
}

Deno.test("EK-FAC refit equals Σ_n (Q_Sᵀ DW_n Q_A)² over per-sequence gradients", async () => {
  const cfg = tinyLlama();
  const w = initParams(paramSpecs(cfg), 5);
  const batch = randomBatch(cfg.vocabSize, [6, 5], 4);
  const layers = kfacLayers(
    cfg,
    (m) => m.endsWith("layers.1.mlp.down_proj") || m.endsWith("layers.0.self_attn.k_proj"),
  );
  const fitter = new KfacFitter(cfg, layers, "node");
  const eig = eigenFactors(await fitter.factors(w, [batch], { empirical: true }));
  const ek = await fitter.refit(w, [batch], eig, { empirical: true });
  await fitter.release();
  const runner = new ModelRunner(cfg, "node");
  const want = new Map(layers.map((l) => [l.module, new Float64Array(l.dOut * l.dIn)]));
  for (let r = 0; r < batch.B; r++) {
    const n = Number(batch.attentionMask.slice(r * batch.T, (r + 1) * batch.T).reduce((a, b) => a + b, 0n));
    const row = makeBatch([{
      inputIds: Int32Array.from(batch.inputIds.slice(r * batch.T, r * batch.T + n), Number),
      labels: Int32Array.from(batch.labels.slice(r * batch.T, r * batch.T + n), Number),
      row: r,
    }]);
    const dw = toLogical(layers, (await runner.lossAndGrad(w, row, 1)).grads);
    for (const l of layers) {
      const qs = eig.QS.get(l.module)!, qa = eig.QA.get(l.module)!, g = dw.get(l.module)!;
      const acc = want.get(l.module)!;
      for (let i = 0; i < l.dOut; i++) {
        for (let j = 0; j < l.dIn; j++) {
          let s = 0;
          for (let p = 0; p < l.dOut; p++) {
            for (let q = 0; q < l.dIn; q++) s += qs[p * l.dOut + i] * g[p * l.dIn + q] * qa[q * l.dIn + j];
          }
          acc[i * l.dIn + j] += s * s;
        }
      }
    }
  }
  await runner.release();
  for (const l of layers) {
    assertClose(ek.lambda.get(l.module)!, want.get(l.module)!.map((x) => x / batch.targetTokens), {
      atol: 1e-7,
      rtol: 2e-3,
      label: l.module,
    });
  }
});

/** Random SPD n×n matrix. */
function spd(n: number, r: () => number): Float32Array {
  const m = Float32Array.from({ length: n * n }, () => r() - 0.5), a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = i === j ? 0.1 : 0;
      for (let k = 0; k < n; k++) s += m[i * n + k] * m[j * n + k];
      a[i * n + j] = s;
    }
  }
  return a;
}

Deno.test("Kronecker inverse-vector product matches a dense solve (K-FAC and EK-FAC eigenvalues)", async () => {
  const r = rng(9), dOut = 5, dIn = 4, n = dOut * dIn;
  const A = spd(dIn, r), S = spd(dOut, r), G = Float32Array.from({ length: n }, () => r() - 0.5);
  const layer = { module: "m", weight: "m.weight", dOut, dIn, transposed: false };
  const ea = eighSym(A, dIn), es = eighSym(S, dOut);
  const kfac = eigenFactors({
    layers: [layer],
    A: new Map([["m", A]]),
    S: new Map([["m", S]]),
    tokens: 1,
    targets: 1,
  });
  const ekLam = Float32Array.from({ length: n }, () => r());
  for (const [label, lam] of [["K-FAC", kfac.lambda.get("m")!], ["EK-FAC", ekLam]] as const) {
    const eig = { ...kfac, lambda: new Map([["m", lam]]) };
    const pre = new Preconditioner(eig, { damping: 0.05 }, "node");
    const { P, quad, lin } = await pre.apply(new Map([["m", G]]));
    const gfg = await pre.quadForm(new Map([["m", G]]));
    await pre.release();
    // dense F = (Q_S ⊗ Q_A) diag(Λ) (Q_S ⊗ Q_A)ᵀ on row-major vec(G); K-FAC: F = S ⊗ A
    const F = new Float32Array(n * n);
    for (let i = 0; i < dOut; i++) {
      for (let j = 0; j < dIn; j++) {
        for (let k = 0; k < dOut; k++) {
          for (let l = 0; l < dIn; l++) {
            let s = 0;
            for (let p = 0; p < dOut; p++) {
              for (let q = 0; q < dIn; q++) {
                s += es.vectors[i * dOut + p] * ea.vectors[j * dIn + q] * lam[p * dIn + q] *
                  es.vectors[k * dOut + p] * ea.vectors[l * dIn + q];
              }
            }
            F[(i * dIn + j) * n + k * dIn + l] = s;
          }
        }
      }
    }
    if (label === "K-FAC") {
      for (let i = 0; i < dOut; i++) {
        for (let j = 0; j < dIn; j++) {
          for (let k = 0; k < dOut; k++) {
            for (let l = 0; l < dIn; l++) {
              const kron = S[i * dOut + k] * A[j * dIn + l];
              assert.ok(Math.abs(F[(i * dIn + j) * n + k * dIn + l] - kron) < 1e-4, "F = S ⊗ A");
            }
          }
        }
      }
    }
    const Fd = F.map((x, idx) => (idx % (n + 1) === 0 ? x + 0.05 : x));
    const x = Float32Array.from(denseSolve(Float64Array.from(Fd), Float64Array.from(G), n));
    assertClose(P.get("m")!, x, { atol: 1e-4, rtol: 1e-3, label });
    const Fx = Array.from({ length: n }, (_, i) => x.reduce((s, xj, j) => s + F[i * n + j] * xj, 0));
    assert.ok(Math.abs(quad - x.reduce((s, xi, i) => s + xi * Fx[i], 0)) < 1e-3 * Math.abs(quad) + 1e-6);
    assert.ok(Math.abs(lin - G.reduce((s, gi, i) => s + gi * x[i], 0)) < 1e-3 * Math.abs(lin) + 1e-6);
    const FG = Array.from({ length: n }, (_, i) => G.reduce((s, gj, j) => s + F[i * n + j] * gj, 0));
    assert.ok(
      Math.abs(gfg - G.reduce((s, gi, i) => s + gi * FG[i], 0)) < 1e-3 * Math.abs(gfg) + 1e-6,
      "GᵀFG",
    );
  }
});
