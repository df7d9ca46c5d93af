/**
 * @module `train`: fine-tune a model on JSONL rows and write an HF model dir. Progress (step, loss,
 * lr, tokens/s, ETA) goes to stderr; checkpoints (`--checkpoint-dir`, every `--save-every` steps)
 * let `--resume` continue the exact trajectory.
 */
import { z } from "zod";
import { TrainOptionsSchema } from "../train/options.ts";
import { Trainer } from "../train/trainer.ts";
import { loadCheckpoint, saveCheckpoint } from "../train/checkpoint.ts";
import { saveModelDir } from "../io/hf_dir.ts";
import { peakRssMb } from "../util/rss.ts";
import { setupLora } from "../lora/setup.ts";
import { CommonFlags, loadModelAndData, parseFlags, progress } from "./common.ts";

/** Methods of `train`. */
export const METHODS = ["full", "lora", "galore", "qgalore", "dct"] as const;
const BUILT = ["full", "lora"];

/** Flags of `train`. */
export const TrainFlags = CommonFlags.extend(TrainOptionsSchema.shape).extend({
  model: z.string().describe("HF model dir, or 'default'"),
  data: z.string().describe("JSONL training rows"),
  out: z.string().describe("output dir (an HF model dir for full-weight methods)"),
  method: z.enum(METHODS).default("full").describe("fine-tuning method"),
  checkpointDir: z.string().optional().describe("where to write resumable checkpoints"),
  saveEvery: z.number().int().positive().optional().describe(
    "checkpoint every N steps (needs --checkpoint-dir)",
  ),
  resume: z.boolean().default(false).describe("continue from --checkpoint-dir"),
  rank: z.number().int().positive().max(4096).default(8).describe("LoRA rank (PEFT r)"),
  loraAlpha: z.number().positive().optional().describe("LoRA α (default: the rank, so scale 1)"),
  loraDropout: z.number().min(0).lt(1).default(0).describe("dropout on the LoRA input"),
  rslora: z.boolean().default(false).describe("scale α/√r (rsLoRA)"),
  targets: z.string().optional().describe(
    "comma-separated module suffixes (default q_proj,v_proj; GPT-2 c_attn)",
  ),
  rankAllocation: z.enum(["uniform", "sensitivity"]).default("uniform").describe("how ranks are spread"),
  rankBudget: z.number().int().positive().optional().describe(
    "sum of ranks over adapted modules (sensitivity)",
  ),
  untilStep: z.number().int().positive().optional()
    .describe(
      "stop after this step with a checkpoint, to resume later (time-boxed chunks); no model dir is written",
    ),
});

/** Run `train`; returns the stdout JSON. */
export async function trainCommand(argv: string[]): Promise<Record<string, number>> {
  const f = parseFlags(TrainFlags, argv);
  if (!BUILT.includes(f.method)) {
    throw new Error(`--method ${f.method}: not built yet (available: ${BUILT.join(", ")})`);
  }
  if (f.rankAllocation !== "uniform") throw new Error(`--rank-allocation ${f.rankAllocation}: not built yet`);
  if ((f.saveEvery || f.resume || f.untilStep) && !f.checkpointDir) {
    throw new Error("--checkpoint-dir: required by --save-every, --resume and --until-step");
  }
  const stop = Math.min(f.steps, f.untilStep ?? f.steps);
  const { model, examples } = await loadModelAndData(f.model, f.data, f.truncate);
  const lora = f.method === "lora"
    ? setupLora(model.config, model.weights, {
      rank: f.rank,
      alpha: f.loraAlpha ?? f.rank,
      dropout: f.loraDropout,
      rslora: f.rslora,
      targets: f.targets?.split(",").map((t) => t.trim()).filter(Boolean),
    }, f.seed)
    : undefined;
  const trainer = new Trainer(model.config, model.weights, examples, f, f.backend, lora?.model);
  if (f.resume) progress(`resumed at step ${(await loadCheckpoint(f.checkpointDir!, trainer)).step}`);
  progress(`train: ${examples.length} rows, ${f.steps} steps, method ${f.method}, backend ${f.backend}`);
  const infos = [];
  while (trainer.state.step < stop) {
    const until = f.saveEvery ? Math.min(stop, trainer.state.step + f.saveEvery) : stop;
    infos.push(
      ...await trainer.run((s) =>
        progress(
          `step ${s.step}/${f.steps} loss ${s.loss.toFixed(4)} lr ${s.lr.toExponential(2)} ` +
            `|g| ${s.gradNorm.toFixed(3)} ${Math.round(s.tokensPerS)} tok/s ETA ${Math.round(s.etaS)} s`,
        ), until),
    );
    if (f.checkpointDir) await saveCheckpoint(f.checkpointDir, trainer);
  }
  await trainer.release();
  const losses = trainer.state.losses;
  const result = {
    loss_start: losses[0],
    loss_end: losses.at(-1)!,
    steps: trainer.state.step,
    tokens_per_s: infos.length ? Math.round(infos.at(-1)!.tokensPerS) : 0,
    peak_rss_mb: Math.round(peakRssMb()),
    optimizer_state_bytes: trainer.optimizer.stateBytes,
  };
  if (trainer.state.step < f.steps) return result; // a chunk of a longer run: the checkpoint holds it
  if (lora) {
    await lora.save(f.out, model.weights, f.model);
    return result;
  }
  const shapes = new Map(trainer.runner.specs.map((s) => [s.name, s.shape]));
  await saveModelDir(
    f.out,
    model.rawConfig,
    new Map(
      [...model.weights].map(([k, v]) => [k, { dtype: "F32" as const, shape: shapes.get(k)!, data: v }]),
    ),
    { copyFrom: model.dir },
  );
  return result;
}
