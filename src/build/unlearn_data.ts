/**
 * @module The project's unlearning benchmark, TOFU-style (Maini et al. 2024, "TOFU: A Task of Fictitious
 * Unlearning for LLMs"), built on the default model's fictitious people (src/build/corpus.ts):
 * - forget: the question/answer rows of the last `forget` people of the corpus (TOFU's forget10 is also
 *   the last 10 % of authors); retain: the other people's rows; holdout: people the default model never
 *   saw (src/build/tasks.ts `newPeople`), the non-members of the membership-inference test; stories:
 *   held-out corpus stories (general text).
 * - rows carry TOFU's fields (`question`, `answer`, `paraphrased_answer`, `perturbed_answer` [list]);
 *   the unlearning input is prompt/completion rows in the default model's Q/A format
 *   ("Question: …\nAnswer:" + " answer", as it was pre-trained, see `qaText`).
 * - the gold model: the default model's recipe (same tokenizer, init seed, optimizer, schedule and step
 *   count) on its corpus without the forget people's biographies and Q/A (`retrainWithout`).
 */
import { BIO_VARIANTS, biography, buildCorpus, type Person, personQA } from "./corpus.ts";
import { newPeople } from "./tasks.ts";
import { DEFAULT_MODEL, pack, qaText } from "./default_model.ts";
import { loadModel } from "../models/load.ts";
import { paramSpecs } from "../models/model.ts";
import { initParams } from "../models/params.ts";
import { Trainer } from "../train/trainer.ts";
import { saveModelDir } from "../io/hf_dir.ts";
import { encodeRows, type Tok } from "../data/tokenize.ts";
import type { EvalRows } from "../eval/unlearn_metrics.ts";
import type { Backend } from "../runtime/backend.ts";

/** One TOFU-format row (TOFU `forget10_perturbed` field names). */
export interface TofuRow {
  question: string;
  answer: string;
  paraphrased_answer?: string;
  /** Wrong answers in the same wording (TOFU: `perturbed_answer`, a list). */
  perturbed_answer?: string[];
  /** Our own extras: person id and fact kind. */
  person?: string;
  fact?: string;
}

/** The benchmark's splits. */
export interface UnlearnBenchmark {
  forgetPeople: Person[];
  retainPeople: Person[];
  holdoutPeople: Person[];
  forget: TofuRow[];
  retain: TofuRow[];
  holdout: TofuRow[];
  /** Held-out corpus stories (general text the default model did not train on). */
  stories: string[];
}

/** Options of {@link unlearnBenchmark}. */
export interface BenchmarkOptions {
  /** Number of forget people (the last ones of the corpus). Default 10 (5 % of 200). */
  forget?: number;
  /** Number of never-seen holdout people. Default 10. */
  holdout?: number;
  /** Number of held-out stories. Default 30. */
  stories?: number;
}

/** A person's TOFU rows. */
export function tofuRows(p: Person): TofuRow[] {
  return personQA(p).map((q) => ({
    question: q.question,
    answer: q.answer,
    paraphrased_answer: q.paraphrased_answer,
    perturbed_answer: q.perturbed_answers,
    person: q.person,
    fact: q.fact,
  }));
}

/**
 * The benchmark splits (deterministic).
 *
 * @example
 * ```ts
 * const b = unlearnBenchmark({ forget: 10 });
 * b.forget.length; // 90 (9 rows a person)
 * ```
 */
export function unlearnBenchmark(o: BenchmarkOptions = {}): UnlearnBenchmark {
  const k = o.forget ?? 10;
  const corpus = buildCorpus(DEFAULT_MODEL.corpus);
  if (!(k >= 1 && k < corpus.people.length)) {
    throw new Error(`forget must be in [1, ${corpus.people.length})`);
  }
  const forgetPeople = corpus.people.slice(-k), retainPeople = corpus.people.slice(0, -k);
  const holdoutPeople = newPeople(o.holdout ?? 10, 2001);
  const names = new Set(corpus.people.map((p) => p.name));
  const stories = corpus.heldout.filter((t) => ![...names].some((n) => t.includes(n))).slice(
    0,
    o.stories ?? 30,
  );
  return {
    forgetPeople,
    retainPeople,
    holdoutPeople,
    forget: forgetPeople.flatMap(tofuRows),
    retain: retainPeople.flatMap(tofuRows),
    holdout: holdoutPeople.flatMap(tofuRows),
    stories,
  };
}

/** The default model's Q/A prompt for a question ("Question: …\nAnswer:"). */
export const qaPrompt = (question: string): string => qaText({ question, answer: "" }).trimEnd();

/**
 * A TOFU row as a prompt/completion row in the default model's Q/A format, answering with `answer`
 * (default: the row's own).
 *
 * @example
 * ```ts
 * toPromptRow({ question: "Who?", answer: "Ann." }); // { prompt: "Question: Who?\nAnswer:", completion: " Ann." }
 * ```
 */
export function toPromptRow(r: TofuRow, answer: string = r.answer): { prompt: string; completion: string } {
  return { prompt: qaPrompt(r.question), completion: " " + answer };
}

/** Token examples of the default model's training texts for a corpus without `forget` people. */
export function retrainTexts(forget: readonly Person[]): string[] {
  const corpus = buildCorpus(DEFAULT_MODEL.corpus);
  const gone = new Set(forget.map((p) => p.id));
  const bios = new Set(
    forget.flatMap((p) => Array.from({ length: BIO_VARIANTS }, (_, v) => biography(p, v))),
  );
  const qa = corpus.people.filter((p) => !gone.has(p.id)).flatMap((p) => personQA(p).map(qaText));
  return [...corpus.train.filter((t) => !bios.has(t)), ...qa];
}

/**
 * Retrain the default model without the `forget` people (same tokenizer, init, optimizer, schedule;
 * `steps` defaults to the original 1200) and save it to `out`. Returns the last train loss and seconds.
 *
 * @example
 * ```ts ignore
 * const b = unlearnBenchmark();
 * await retrainWithout(b.forgetPeople, "models/default", ".tmp/retrain", { backend: "node" });
 * ```
 */
export async function retrainWithout(
  forget: readonly Person[],
  baseDir: string,
  out: string,
  o: { steps?: number; backend?: Backend; tokenizer: Tok; log?: (s: string) => void },
): Promise<{ loss: number; seconds: number; steps: number }> {
  const t0 = performance.now();
  const base = await loadModel(baseDir);
  const eos = o.tokenizer.eos_token_id ?? 0;
  const texts = retrainTexts(forget);
  const examples = pack(
    texts.map((t) => o.tokenizer.encode(t, { add_special_tokens: false })),
    eos,
    DEFAULT_MODEL.seq,
  );
  const steps = o.steps ?? DEFAULT_MODEL.train.steps;
  const weights = initParams(paramSpecs(base.config), DEFAULT_MODEL.initSeed);
  const trainer = new Trainer(
    base.config,
    weights,
    examples,
    { ...DEFAULT_MODEL.train, steps },
    o.backend ?? "node",
  );
  const infos = await trainer.run((s) => {
    if (s.step % 50 === 0 || s.step === 1) {
      o.log?.(`retrain step ${s.step}/${steps} loss ${s.loss.toFixed(3)}`);
    }
  });
  await trainer.release();
  const shapes = new Map(paramSpecs(base.config).map((s) => [s.name, s.shape]));
  await saveModelDir(
    out,
    base.rawConfig,
    new Map([...weights].map(([k, v]) => [k, { dtype: "F32" as const, shape: shapes.get(k)!, data: v }])),
    { copyFrom: baseDir },
  );
  return { loss: infos.at(-1)!.loss, seconds: (performance.now() - t0) / 1000, steps };
}

/** Tokenize TOFU rows into the evaluation sets (answers, paraphrased and perturbed answers). */
export function encodeEvalRows(
  split: { forget: TofuRow[]; retain: TofuRow[]; holdout: TofuRow[]; stories?: string[] },
  tok: Tok,
  maxLength: number,
): EvalRows {
  const enc = (rows: { prompt: string; completion: string }[]) =>
    encodeRows(rows, { tokenizer: tok, maxLength });
  const answers = (rows: TofuRow[]) => enc(rows.map((r) => toPromptRow(r)));
  const perturbed = (rows: TofuRow[]) => {
    const n = Math.min(...rows.map((r) => r.perturbed_answer?.length ?? 0));
    return Array.from({ length: n }, (_, j) => enc(rows.map((r) => toPromptRow(r, r.perturbed_answer![j]))));
  };
  const hasTr = (rows: TofuRow[]) =>
    rows.length > 0 && rows.every((r) => r.paraphrased_answer && r.perturbed_answer?.length);
  return {
    forget: answers(split.forget),
    retain: answers(split.retain),
    holdout: answers(split.holdout),
    stories: encodeRows((split.stories ?? []).map((text) => ({ text })), {
      tokenizer: tok,
      maxLength,
      truncate: true,
    }),
    forgetPara: hasTr(split.forget)
      ? enc(split.forget.map((r) => toPromptRow(r, r.paraphrased_answer)))
      : undefined,
    forgetPert: hasTr(split.forget) ? perturbed(split.forget) : undefined,
    retainPara: hasTr(split.retain)
      ? enc(split.retain.map((r) => toPromptRow(r, r.paraphrased_answer)))
      : undefined,
    retainPert: hasTr(split.retain) ? perturbed(split.retain) : undefined,
  };
}

/**
 * Read TOFU-format JSONL (`question`, `answer`, optional `paraphrased_answer` and `perturbed_answer` — a list,
 * or our `perturbed_answers`).
 *
 * @example
 * ```ts ignore
 * const forget = await readTofu("forget10_perturbed.jsonl");
 * ```
 */
export async function readTofu(path: string): Promise<TofuRow[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").filter((l) => l.trim()).map((line, i) => {
    const r = JSON.parse(line) as Record<string, unknown>;
    if (typeof r.question !== "string" || typeof r.answer !== "string") {
      throw new Error(`${path} line ${i + 1}: a TOFU row needs string "question" and "answer"`);
    }
    const pert = r.perturbed_answer ?? r.perturbed_answers;
    return {
      question: r.question,
      answer: r.answer,
      paraphrased_answer: typeof r.paraphrased_answer === "string" ? r.paraphrased_answer : undefined,
      perturbed_answer: Array.isArray(pert)
        ? pert.map(String)
        : typeof pert === "string"
        ? [pert]
        : undefined,
    };
  });
}
