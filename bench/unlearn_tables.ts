/**
 * Markdown tables of an `eval:unlearn` results file (bench/unlearn.ts writes it; `--from FILE` reprints them):
 * the headline table (every method at equal forget effect with open-unlearning's metrics, the retain KL and
 * the relearning attack), the KL details, and the stored updates re-applied after a further fine-tune.
 */
import type { UnlearnMetrics } from "../src/eval/unlearn_metrics.ts";

/** One unlearning run (or the original / retrained reference) in `results.json`. */
export type ResultRow = UnlearnMetrics & {
  method: string;
  level: number;
  steps: number;
  seconds: number;
  cpuSeconds: number;
  /** NLL of the measured forget half before and after the relearning attack. */
  relearnBefore: number;
  relearnAfter: number;
  /** Forget NLL of the unlearning rows, and whether it reached the level's target. */
  forgetLoss: number;
  reached: boolean;
};
/** One stored update re-applied after a further fine-tune of the original. */
export type ReappliedRow = {
  method: string;
  forgetNll: number;
  gainShare: number;
  retainKl: number;
  furtherNll: number;
};
/** What `results.json` holds. */
export interface UnlearnResults {
  benchmark: string;
  about: string;
  forgetNll: { original: number; retrained: number };
  results: ResultRow[];
  reapplied: ReappliedRow[];
  /** Load average (1, 5, 15 min) at the start and at the end of the run. */
  load?: { start: number[]; end: number[] };
}

const f = (x: number | undefined, d = 3) => (x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(d));
const e = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x)
    ? "–"
    : Math.abs(x) < 0.01 && x !== 0
    ? x.toExponential(1)
    : x.toFixed(3);
const p = (x: number | undefined) => x === undefined ? "–" : x >= 0.01 ? x.toFixed(2) : x.toExponential(1);

/**
 * The tables as markdown lines.
 *
 * @example
 * ```ts ignore
 * console.log(unlearnTables(JSON.parse(await Deno.readTextFile("results.json"))).join("\n"));
 * ```
 */
export function unlearnTables(r: UnlearnResults): string[] {
  const out: string[] = [];
  const forget = (x: ResultRow) => `${f(x.forgetLoss)}${x.reached ? "" : " (short)"}`;
  const ref = (x: ResultRow) => x.method === "original" || x.method === "retrained";
  const time = (x: ResultRow) => ref(x) ? "–" : `${Math.round(x.seconds)} (${Math.round(x.cpuSeconds)})`;
  out.push(
    "| method | level | forget NLL | forget quality (KS p) | model utility | privleak | extraction strength | " +
      "exact memorization | **retain KL to original** | relearned forget NLL (before → after) | steps | time s (CPU s) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const x of r.results) {
    out.push(
      `| ${x.method} | ${ref(x) ? "–" : x.level} | ${forget(x)} | ${p(x.forgetQuality)} | ${
        f(x.modelUtility)
      } | ${f(x.privleak, 1)} | ${f(x.extractionStrength)} | ${f(x.exactMemorization)} | ${
        e(x.klRetainToOrig)
      } | ${f(x.relearnBefore)} → ${f(x.relearnAfter)} | ${ref(x) ? "–" : x.steps} | ${time(x)} |`,
    );
  }
  out.push(
    "",
    "| method | level | KL to retrained, forget | KL to retrained, retain | general KL to original | forget ROUGE-L | " +
      "retain ROUGE-L | loss MIA AUC | Min-K%++ AUC |",
    "|---|---|---|---|---|---|---|---|---|",
  );
  for (const x of r.results) {
    out.push(
      `| ${x.method} | ${ref(x) ? "–" : x.level} | ${e(x.klForgetToRetrain)} | ${e(x.klRetainToRetrain)} | ${
        e(x.klStoriesToOrig)
      } | ${f(x.forgetRouge)} | ${f(x.retainRouge)} | ${f(x.miaAuc)} | ${f(x.minKppAuc)} |`,
    );
  }
  if (r.reapplied.length) {
    out.push(
      "",
      "| update re-applied after a further fine-tune | forget NLL | share of the original forget gain | " +
        "retain KL to the fine-tuned model | new rows' NLL |",
      "|---|---|---|---|---|",
    );
    for (const x of r.reapplied) {
      out.push(
        `| ${x.method} | ${f(x.forgetNll)} | ${f(x.gainShare, 2)} | ${e(x.retainKl)} | ${f(x.furtherNll)} |`,
      );
    }
  }
  return out;
}
