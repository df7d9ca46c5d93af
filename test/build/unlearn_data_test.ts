/** TOFU-format input: `perturbed_answer` lists (TOFU) or `perturbed_answers` (ours), encoded into aligned
 * answer / paraphrase / perturbation rows whose loss covers only the answer. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadTokenizer } from "../../src/data/tokenize.ts";
import { encodeEvalRows, readTofu } from "../../src/build/unlearn_data.ts";

Deno.test("readTofu + encodeEvalRows: TOFU rows become aligned evaluation sets", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rows = [
      {
        question: "Who is A?",
        answer: "A is a cook.",
        paraphrased_answer: "A cooks.",
        perturbed_answer: ["A is a pilot.", "A is a vet."],
      },
      {
        question: "Who is B?",
        answer: "B is a poet.",
        paraphrased_answer: "B writes poems.",
        perturbed_answers: ["B is a nun.", "B is a cop."],
      },
    ];
    await Deno.writeTextFile(join(dir, "f.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const tofu = await readTofu(join(dir, "f.jsonl"));
    assert.deepEqual(tofu[1].perturbed_answer, ["B is a nun.", "B is a cop."]);
    await Deno.writeTextFile(join(dir, "bad.jsonl"), '{"question": "x"}\n');
    await assert.rejects(() => readTofu(join(dir, "bad.jsonl")), /line 1/);
    const tok = await loadTokenizer(new URL("../../models/default", import.meta.url).pathname);
    const e = encodeEvalRows({ forget: tofu, retain: tofu, holdout: tofu.slice(0, 1) }, tok, 256);
    assert.equal(e.forget.length, 2);
    assert.equal(e.forgetPert!.length, 2);
    assert.equal(e.forgetPert![1][0].row, e.forget[0].row);
    assert.equal(e.stories.length, 0);
    // the loss covers the answer (and EOS) only: the prompt "Question: …\nAnswer:" has no labels
    const ex = e.forget[0],
      prompt = tok.encode("Question: Who is A?\nAnswer:", { add_special_tokens: false });
    assert.ok(ex.labels.slice(0, prompt.length - 1).every((l) => l === -100));
    assert.equal(tok.decode(Array.from(ex.labels.filter((l) => l !== -100))), " A is a cook.<|endoftext|>");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
