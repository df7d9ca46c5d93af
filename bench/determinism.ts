/**
 * Whether training is bit-reproducible on a backend: the same full fine-tune of the default model (64
 * rows of data/mixture.train.jsonl, batch 16, lr 1e-3) run several times in this process; prints each
 * run's losses and a SHA-256 of its weights, then one JSON line. Every run should print one hash.
 *
 *   deno run -A bench/determinism.ts [--backend node] [--runs 3] [--steps 3]
 */
import { parseArgs } from "node:util";
import { createHash } from "node:crypto";
import { prepareFinetune } from "../src/train/prepare.ts";
import { readJsonl } from "../src/data/rows.ts";
import type { Backend } from "../src/runtime/backend.ts";

const { values: a } = parseArgs({
  options: {
    backend: { type: "string", default: "node" },
    runs: { type: "string", default: "3" },
    steps: { type: "string", default: "3" },
  },
});
const backend = a.backend as Backend, steps = Number(a.steps);
const rows = (await readJsonl("data/mixture.train.jsonl")).slice(0, 64);
const hashes: string[] = [];
for (let run = 0; run < Number(a.runs); run++) {
  const p = await prepareFinetune({
    modelDir: "models/default",
    rows,
    method: "full",
    backend,
    options: { batchSize: 16, steps, lr: 1e-3 },
  });
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push((await p.trainer.step()).loss);
  const h = createHash("sha256");
  for (const [name, w] of [...p.trainer.weights.entries()].sort(([x], [y]) => (x < y ? -1 : 1))) {
    h.update(name).update(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  }
  hashes.push(h.digest("hex").slice(0, 16));
  await p.trainer.release();
  console.error(
    `run ${run + 1}: losses ${losses.map((x) => x.toFixed(7)).join(" ")}  weights ${hashes.at(-1)}`,
  );
}
console.log(JSON.stringify({ backend, steps, hashes, distinct: new Set(hashes).size }));
