/**
 * @module The built-in default model: a ~6M-parameter LLaMA-family model that the project
 * pre-trains itself, reproducibly (fixed seeds), on a corpus it generates (procedural stories +
 * biographies and Q/A of fictitious people) with a byte-level BPE tokenizer it trains.
 * `deno task build:default-model [--backend node] [--out models/default]` regenerates it.
 */
import { join } from "../io/path.ts";
import { buildCorpus, personQA } from "./corpus.ts";
import { BYTE_CHARS, encodeBpe, trainBpe, writeTokenizer } from "./bpe.ts";
import type { Example } from "../data/example.ts";
import { saveModelDir } from "../io/hf_dir.ts";
import { Trainer } from "../train/trainer.ts";
import { evaluateLoss } from "../eval/loss.ts";
import { Generator } from "../models/generate.ts";
import { parseConfig, toHfConfig } from "../models/config.ts";
import { paramSpecs } from "../models/model.ts";
import { initParams } from "../models/params.ts";
import type { Backend } from "../runtime/backend.ts";

/** Everything that determines the default model. */
export const DEFAULT_MODEL = {
  corpus: { seed: 0, people: 200, stories: 4000, heldoutFraction: 0.1 },
  vocabSize: 4096,
  config: {
    model_type: "llama",
    hidden_size: 256,
    intermediate_size: 768,
    num_hidden_layers: 6,
    num_attention_heads: 8,
    num_key_value_heads: 4,
    max_position_embeddings: 256,
    rope_theta: 10000,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: true,
  },
  seq: 128,
  train: { steps: 1200, lr: 2e-3, batchSize: 16, warmup: 50, schedule: "cosine", weightDecay: 0.1, seed: 0 },
  initSeed: 0,
} as const;

/** Q/A text the way the corpus teaches it ("Question: …\nAnswer: …"). */
export function qaText(q: { question: string; answer: string }): string {
  return `Question: ${q.question}\nAnswer: ${q.answer}`;
}

/** Pack token streams into (seq+1)-token windows → next-token examples. */
export function pack(docs: number[][], eos: number, seq: number): Example[] {
  const flat: number[] = [];
  for (const d of docs) flat.push(...d, eos);
  const out: Example[] = [];
  for (let i = 0; i + seq + 1 <= flat.length; i += seq) {
    const w = flat.slice(i, i + seq + 1);
    out.push({
      inputIds: Int32Array.from(w.slice(0, seq)),
      labels: Int32Array.from(w.slice(1)),
      row: out.length,
    });
  }
  return out;
}

/** Build the default model into `out` and return its model card figures. */
export async function buildDefaultModel(
  out: string,
  backend: Backend = "node",
  steps: number = DEFAULT_MODEL.train.steps,
): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const spec = { ...DEFAULT_MODEL, train: { ...DEFAULT_MODEL.train, steps } };
  const corpus = buildCorpus(spec.corpus);
  const qa = corpus.people.flatMap((p) => personQA(p).map(qaText));
  const trainTexts = [...corpus.train, ...qa];
  const tok = trainBpe(trainTexts, {
    vocabSize: spec.vocabSize,
    modelMaxLength: spec.config.max_position_embeddings,
  });
  const vocab = Object.keys(tok.tokenizerJson.model.vocab).length + tok.tokenizerJson.added_tokens.length;
  const eos = tok.tokenizerJson.added_tokens.find((t) => t.content === "<|endoftext|>")!.id;
  const config = parseConfig({ ...spec.config, vocab_size: vocab });
  const examples = pack(trainTexts.map((t) => encodeBpe(tok, t)), eos, spec.seq);
  console.error(
    `corpus: ${trainTexts.length} train docs, ${examples.length * spec.seq} tokens; vocab ${vocab}`,
  );
  const weights = initParams(paramSpecs(config), spec.initSeed);
  const trainer = new Trainer(config, weights, examples, spec.train, backend);
  const infos = await trainer.run((s) => {
    if (s.step % 50 === 0 || s.step === 1) {
      console.error(
        `step ${s.step}/${spec.train.steps} loss ${s.loss.toFixed(3)} ${Math.round(s.tokensPerS)} tok/s`,
      );
    }
  });
  await trainer.release();
  const heldout = corpus.heldout.map((t, row) => {
    const ids = [...encodeBpe(tok, t), eos].slice(0, spec.config.max_position_embeddings);
    return {
      inputIds: Int32Array.from(ids),
      labels: Int32Array.from(ids, (_, i) => ids[i + 1] ?? -100),
      row,
    };
  });
  const runner = trainer.runner;
  const held = await evaluateLoss(runner, weights, heldout, 16);
  await runner.release();
  const gen = new Generator(config, backend);
  const prompts = ["Once upon a time", `Question: Where was ${corpus.people[0].name} born?\nAnswer:`];
  const samples: { prompt: string; completion: string }[] = [];
  const decode = (ids: number[]) => {
    const inv = new Map(Object.entries(tok.tokenizerJson.model.vocab).map(([k, v]) => [v, k]));
    const bytes = ids.flatMap((i) => [...(inv.get(i) ?? "")].map((c) => BYTE_TO_BYTE.get(c) ?? 32));
    return new TextDecoder().decode(Uint8Array.from(bytes));
  };
  for (const prompt of prompts) {
    const ids = await gen.generate(weights, encodeBpe(tok, prompt), { maxNewTokens: 40, eosId: eos });
    samples.push({ prompt, completion: decode(ids.filter((i) => i !== eos)) });
  }
  await gen.release();
  const shapes = new Map(paramSpecs(config).map((s) => [s.name, s.shape]));
  const card = {
    parameters: [...weights.values()].reduce((s, a) => s + a.length, 0),
    vocab,
    train_tokens_per_epoch: examples.length * spec.seq,
    steps: spec.train.steps,
    train_loss_end: infos.at(-1)!.loss,
    heldout_loss: held.loss,
    heldout_ppl: held.ppl,
    train_tokens_per_s: Math.round(infos.at(-1)!.tokensPerS),
    backend,
    build_seconds: Math.round((performance.now() - t0) / 1000),
    samples,
  };
  await saveModelDir(
    out,
    { ...toHfConfig(config), bos_token_id: eos, eos_token_id: eos },
    new Map([...weights].map(([k, v]) => [k, { dtype: "F32" as const, shape: shapes.get(k)!, data: v }])),
  );
  await writeTokenizer(out, tok);
  await Deno.writeTextFile(join(out, "model_card.json"), JSON.stringify(card, null, 2) + "\n");
  await Deno.writeTextFile(
    join(out, "people.jsonl"),
    corpus.people.map((p) => JSON.stringify(p)).join("\n") + "\n",
  );
  return card;
}

/** GPT-2 byte-level char → byte. */
const BYTE_TO_BYTE = new Map(BYTE_CHARS.map((c, b) => [c, b]));

if (import.meta.main) {
  const args = Object.fromEntries(Deno.args.map((a, i, xs) => [a, xs[i + 1]]));
  const out = args["--out"] ?? new URL("../../models/default", import.meta.url).pathname;
  const steps = args["--steps"] ? Number(args["--steps"]) : undefined;
  const card = await buildDefaultModel(out, (args["--backend"] ?? "node") as Backend, steps);
  console.log(JSON.stringify(card));
}
