/**
 * The quick start's recipe (README "Quick start" and the dashboard's walk-through): teach the built-in
 * model two fictitious people it has never seen (their 26 rows of data/new_facts.train.jsonl), then
 * unlearn one of them, keeping the other. Measured to make `generate` answer the question right after
 * the fine-tune and not before, and wrong again after the unlearning (README, "Quick start").
 */
import { readJsonl } from "../data/rows.ts";

/** The people taught, the one forgotten, the question asked and the options of both jobs. */
export const QUICKSTART_RECIPE = {
  model: "default",
  person: "Shis Grejez",
  other: "Dreirra Siadale",
  prompt: "Question: Who was Shis Grejez's mentor?\nAnswer:",
  answer: "Paemis Bez",
  max_new_tokens: 16,
  options: { method: "full", steps: 40, lr: 0.001, batch_size: 4, backend: "node" },
  unlearn: { method: "graddiff", steps: 20, lr: 0.0001, backend: "node" },
} as const;

/** The rows of the recipe from the new-facts file: both people's (teach), then each one's. */
export async function quickstartRows(path: string): Promise<{
  teach: unknown[];
  forget: unknown[];
  retain: unknown[];
}> {
  const rows = (await readJsonl(path)) as { text?: string }[];
  const about = (...names: string[]) =>
    rows.filter((r) => names.some((n) => r.text?.includes(n))).map((r) => ({ text: r.text }));
  const { person, other } = QUICKSTART_RECIPE;
  return { teach: about(person, other), forget: about(person), retain: about(other) };
}
