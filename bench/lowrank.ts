/**
 * Low-rank memory methods side by side on a benchmark shape: optimizer-state bytes, peak RSS,
 * tokens/s and projector-refresh time for AdamW, GaLore, Q-GaLore (INT4 projectors + INT8 weights)
 * and DCT; each method in its own process (so peak RSS is its own), plus torch.linalg.svd of the
 * same matrices through the PyTorch peer when /usr/bin/python3 has torch.
 * Usage: deno task bench:lowrank [--shapes gpt2,smollm] [--rank 128] [--backend node] [--steps 3]
 * One method: deno run -A bench/lowrank.ts --one galore --shape gpt2   (prints one JSON line)
 * --batch / --seq override the shape's batch geometry (e.g. --batch 1 for a memory-bound run).
 */
import { parseArgs } from "node:util";
import { ModelRunner } from "../src/models/runner.ts";
import { initParams } from "../src/models/params.ts";
import { Trainer } from "../src/train/trainer.ts";
import { buildProjectors, lowRankTargets } from "../src/optim/lowrank.ts";
import { GaLoreProjector } from "../src/optim/galore.ts";
import { QGaLoreProjector } from "../src/optim/qgalore.ts";
import { DctProjector } from "../src/optim/dct.ts";
import { int8Source, QuantizedWeights } from "../src/optim/int8_weights.ts";
import { peakRssMb } from "../src/util/rss.ts";
import type { Backend } from "../src/runtime/backend.ts";
import { randomTokenRows, shapeConfig, type ShapeName } from "./shapes.ts";

const { values: a } = parseArgs({
  options: {
    one: { type: "string" },
    shape: { type: "string", default: "gpt2" },
    shapes: { type: "string", default: "gpt2,smollm" },
    rank: { type: "string", default: "128" },
    backend: { type: "string", default: "node" },
    steps: { type: "string", default: "3" },
    methods: { type: "string", default: "adamw,galore,qgalore,dct" },
    batch: { type: "string" },
    seq: { type: "string" },
  },
});

async function one(method: string, shape: ShapeName): Promise<Record<string, unknown>> {
  const geo = shapeConfig(shape), config = geo.config;
  const batch = Number(a.batch ?? geo.batch), seq = Number(a.seq ?? geo.seq);
  if (seq > config.maxPositions) {
    throw new Error(`--seq ${seq} exceeds the shape's ${config.maxPositions} positions`);
  }
  const rank = Number(a.rank), steps = Number(a.steps);
  const specs = new ModelRunner(config, "node").specs;
  let weights: Map<string, Float32Array> = initParams(specs, 0);
  const examples = randomTokenRows(config.vocabSize, batch, seq);
  const make = {
    adamw: undefined,
    galore: (m: number, n: number) => new GaLoreProjector(m, n, { rank, updateGap: 200, scale: 0.25 }),
    qgalore: (m: number, n: number) => new QGaLoreProjector(m, n, { rank, updateGap: 200, scale: 0.25 }),
    dct: (m: number, n: number) => new DctProjector(m, n, { rank, updateGap: 200 }),
  }[method.replace("+emb", "")];
  // "+emb": also project the token embedding (a GaLore target option; the official selection keeps it in AdamW)
  const emb = config.arch === "gpt2" ? `${config.prefix}wte` : "model.embed_tokens";
  const targets = method.endsWith("+emb")
    ? [...new Set(lowRankTargets(config).map((t) => t.name.split(".").at(-2)!)), emb]
    : undefined;
  const projectors = make ? buildProjectors(config, make, targets) : undefined;
  let int8;
  if (method.startsWith("qgalore")) {
    const names = new Set(lowRankTargets(config).map((t) => t.name));
    const qw = new QuantizedWeights(weights);
    for (const n of names) qw.store(n, weights.get(n)!, 256, 0, false);
    weights = qw;
    int8 = { source: int8Source(names, 256), groupSize: 256 };
  }
  const t = new Trainer(
    config,
    weights,
    examples,
    { steps, lr: 1e-4, batchSize: batch, maxGradNorm: 0 },
    a.backend as Backend,
    {
      projectors,
      int8,
    },
  );
  const infos = await t.run();
  await t.release();
  const steady = infos.slice(1);
  const refresh = projectors ? [...projectors.values()] : [];
  const refreshS = refresh.reduce((x, p) => x + (p.refreshSeconds ?? 0), 0);
  return {
    shape,
    method,
    backend: a.backend,
    batch,
    seq,
    rank: make ? rank : null,
    optimizer_state_bytes: t.optimizer.stateBytes,
    weight_bytes: weights instanceof QuantizedWeights
      ? weights.quantizedBytes +
        [...Map.prototype.entries.call(weights)].reduce((x, [, v]) => x + v.byteLength, 0)
      : [...weights.values()].reduce((x, v) => x + v.byteLength, 0),
    peak_rss_mb: Math.round(peakRssMb()),
    tokens_per_s: Math.round(steady.at(-1)?.tokensPerS ?? infos.at(-1)!.tokensPerS),
    projector_refresh_s: Number(refreshS.toFixed(2)),
    matrices: refresh.length,
  };
}

if (a.one) {
  console.log(JSON.stringify(await one(a.one, a.shape as ShapeName)));
} else {
  const rows: Record<string, unknown>[] = [];
  for (const shape of a.shapes.split(",") as ShapeName[]) {
    for (const method of a.methods.split(",")) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "bench/lowrank.ts",
          "--one",
          method,
          "--shape",
          shape,
          "--rank",
          a.rank,
          "--backend",
          a.backend,
          "--steps",
          a.steps,
          ...(a.batch ? ["--batch", a.batch] : []),
          ...(a.seq ? ["--seq", a.seq] : []),
        ],
        stderr: "inherit",
      }).output();
      const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
      rows.push(JSON.parse(line));
      console.error(line);
    }
  }
  const adam = (shape: string) =>
    rows.find((r) => r.shape === shape && r.method === "adamw")?.optimizer_state_bytes as number;
  console.log(
    "| shape | method | state MB | vs AdamW | weights MB | peak RSS MB | tokens/s | refresh s (all matrices) |\n|---|---|---|---|---|---|---|---|",
  );
  for (const r of rows) {
    const st = r.optimizer_state_bytes as number;
    console.log(
      `| ${r.shape} | ${r.method} | ${(st / 2 ** 20).toFixed(1)} | ${
        (100 * st / adam(r.shape as string)).toFixed(0)
      } % | ${
        ((r.weight_bytes as number) / 2 ** 20).toFixed(0)
      } | ${r.peak_rss_mb} | ${r.tokens_per_s} | ${r.projector_refresh_s} (${r.matrices}) |`,
    );
  }
  console.log(JSON.stringify(rows));
}
