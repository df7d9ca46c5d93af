/**
 * @module Training checkpoints: weights, AdamW moments + step, the trainer state (step, data
 * cursor, epoch, losses) and the hooks' state (CoLM's feature moments), written atomically to a directory (temp sibling, then rename), so a run
 * resumed from it follows the uninterrupted trajectory exactly.
 */
import { basename, dirname, join } from "../io/path.ts";
import { readSafetensors, serializeSafetensors, toFloat32 } from "../io/safetensors.ts";
import type { Trainer, TrainerState } from "./trainer.ts";
import { QuantizedWeights } from "../optim/int8_weights.ts";
import { isNotFound, readText, storage } from "../io/storage.ts";

const WEIGHTS = "weights.safetensors", OPTIM = "optimizer.safetensors", STATE = "trainer_state.json";
const HOOKS = "hooks.safetensors";

/**
 * Save `trainer` to `dir` (replacing an older checkpoint there).
 *
 * @example
 * ```ts ignore
 * await saveCheckpoint("./ckpt", trainer);
 * ```
 */
export async function saveCheckpoint(dir: string, trainer: Trainer): Promise<void> {
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${crypto.randomUUID().slice(0, 8)}`);
  const shapes = new Map(trainer.runner.specs.map((s) => [s.name, s.shape]));
  const f32 = (m: Map<string, Float32Array>, prefix = "") =>
    Object.fromEntries(
      [...m].map(([k, v]) => [prefix + k, { dtype: "F32" as const, shape: shapes.get(k)!, data: v }]),
    );
  // optimizer state may live in a projected (low-rank) space: store it flat
  const flat = (m: Map<string, Float32Array>, prefix: string) =>
    Object.fromEntries(
      [...m].map(([k, v]) => [prefix + k, { dtype: "F32" as const, shape: [v.length], data: v }]),
    );
  const fs = storage();
  try {
    await fs.mkdir(tmp);
    const trainable = trainer.runner.trainable ?? (() => true);
    const qw = trainer.weights instanceof QuantizedWeights ? trainer.weights : undefined;
    // frozen base weights stay out (a quantized frozen base too: it is quantized again as it loads);
    // trained INT8 weights (Q-GaLore) are saved as their exact codes
    const own = new Map(
      [...trainer.weights.keys()].filter((k) => trainable(k) && !qw?.codes.has(k)).map((
        k,
      ) => [k, trainer.weights.get(k)!]),
    );
    const codes: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
    for (const k of [...(qw?.codes.keys() ?? [])].filter(trainable)) {
      for (const [part, a] of Object.entries(qw!.exportCodes(k))) {
        codes[`int8.${part}.${k}`] = { dtype: "F32", shape: [a.length], data: a };
      }
    }
    await fs.write(join(tmp, WEIGHTS), serializeSafetensors({ ...f32(own), ...codes }));
    const opt = trainer.optimizer;
    await fs.write(
      join(tmp, OPTIM),
      serializeSafetensors(
        Object.assign({}, ...Object.entries(opt.state()).map(([kind, m]) => flat(m, `${kind}.`))),
        { step: String(opt.step) },
      ),
    );
    const hooks = trainer.hooks.state?.();
    if (hooks) {
      await fs.write(
        join(tmp, HOOKS),
        serializeSafetensors(
          Object.fromEntries(
            Object.entries(hooks.tensors).map(([k, v]) => [k, { dtype: "F32", shape: [v.length], data: v }]),
          ),
          hooks.meta,
        ),
      );
    }
    await fs.write(
      join(tmp, STATE),
      JSON.stringify({ state: trainer.state, options: trainer.opts }),
    );
    await fs.remove(dir, { recursive: true }).catch(() => {});
    await fs.rename(tmp, dir);
  } catch (e) {
    await fs.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** Load a checkpoint from `dir` into `trainer` (weights in place, moments, step, data cursor). */
export async function loadCheckpoint(dir: string, trainer: Trainer): Promise<TrainerState> {
  const { state } = JSON.parse(await readText(join(dir, STATE))) as { state: TrainerState };
  const w = await readSafetensors(join(dir, WEIGHTS));
  const trainable = trainer.runner.trainable ?? (() => true);
  const qw = trainer.weights instanceof QuantizedWeights ? trainer.weights : undefined;
  for (const [k, arr] of trainer.weights) {
    if (!trainable(k)) continue;
    const t = w.tensors.get(k);
    if (qw?.codes.has(k)) {
      const part = (p: string) => w.tensors.get(`int8.${p}.${k}`);
      if (!part("codes")) throw new Error(`checkpoint ${dir}: INT8 weight ${k} is missing`);
      qw.importCodes(
        k,
        Object.fromEntries(["codes", "scales", "zeros", "meta"].map((p) => [p, toFloat32(part(p)!)])),
      );
      continue;
    }
    if (!t) throw new Error(`checkpoint ${dir}: weight ${k} is missing`);
    arr.set(toFloat32(t));
  }
  const o = await readSafetensors(join(dir, OPTIM));
  const opt = trainer.optimizer;
  const kinds: Record<string, Map<string, Float32Array>> = {};
  for (const [k, t] of o.tensors) {
    const dot = k.indexOf(".");
    (kinds[k.slice(0, dot)] ??= new Map()).set(k.slice(dot + 1), toFloat32(t).slice());
  }
  opt.loadState(kinds);
  opt.step = Number(o.metadata.step);
  await loadHookState(dir, trainer);
  trainer.restore(state);
  return state;
}

/** Restore the hooks' state; a checkpoint and hooks that disagree on having one is an error. */
async function loadHookState(dir: string, trainer: Trainer): Promise<void> {
  const load = trainer.hooks.loadState;
  let h;
  try {
    h = await readSafetensors(join(dir, HOOKS));
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  if (!h && load) {
    throw new Error(
      `checkpoint ${dir}: no ${HOOKS} (saved by a run without batch selection, e.g. --coreset)`,
    );
  }
  if (h && !load) {
    throw new Error(
      `checkpoint ${dir}: it holds batch-selection state (${HOOKS}); resume with the same --coreset`,
    );
  }
  if (h && load) {
    const tensors = Object.fromEntries([...h.tensors].map(([k, t]) => [k, toFloat32(t).slice()]));
    load({ tensors, meta: h.metadata });
  }
}
