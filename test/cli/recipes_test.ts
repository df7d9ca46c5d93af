/**
 * The README's recipes run as written: every `deno task cli …` line and the library snippet of
 * "### Recipes", with the checkpoints replaced by tiny models of the same family (a Qwen3 with the real
 * Qwen3 tokenizer and chat template; a LLaMA with a tiny BPE), data files written here and `--steps 2`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, writeModel } from "./_cli.ts";
import { tinyQwen3 } from "../data/_real_tokenizers.ts";
import { writeTinyTokenizer } from "../data/_fixtures.ts";
import { tinyLlama } from "../models/_tiny.ts";
import { finetune, generate } from "../../mod.ts";

const README = join(import.meta.dirname!, "..", "..", "README.md");

/** The recipe section's shell commands (continuations joined) and its TypeScript blocks. */
async function recipes(): Promise<{ commands: string[][]; ts: string[] }> {
  const md = await Deno.readTextFile(README);
  const from = md.indexOf("### Recipes");
  const section = md.slice(from, md.indexOf("\n## ", from));
  const blocks = [...section.matchAll(/```(sh|ts)\n([\s\S]*?)```/g)];
  const commands = blocks.filter((b) => b[1] === "sh").flatMap((b) =>
    b[2].replace(/\\\n\s*/g, "").split("\n").filter((l) => l.startsWith("deno task cli "))
  ).map((l) => [...l.slice("deno task cli ".length).matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]));
  return { commands, ts: blocks.filter((b) => b[1] === "ts").map((b) => b[2]) };
}

Deno.test("README recipes: the chat LoRA and the base-model full fine-tune run as written", async () => {
  const root = await Deno.makeTempDir();
  const path = (p: string) => join(root, p);
  try {
    await tinyQwen3(path("Qwen3-0.6B"));
    await writeModel(path("SmolLM2-135M"), { ...tinyLlama(), vocabSize: 270 });
    await writeTinyTokenizer(path("SmolLM2-135M"), { addBos: true });
    const chat = (q: string, a: string) =>
      JSON.stringify({ messages: [{ role: "user", content: q }, { role: "assistant", content: a }] });
    await Deno.writeTextFile(
      path("chat.jsonl"),
      [chat("Capital of France?", "Paris."), chat("2+2?", "4")].join("\n"),
    );
    await Deno.writeTextFile(path("chat-heldout.jsonl"), chat("Capital of Spain?", "Madrid."));
    await Deno.writeTextFile(
      path("corpus.jsonl"),
      '{"text": "hello the world"}\n{"text": "the hello world, hello"}',
    );
    await Deno.writeTextFile(path("heldout.jsonl"), '{"text": "hello world"}');

    const { commands, ts } = await recipes();
    assert.deepEqual(commands.map((c) => c[0]), ["train", "eval", "export", "train", "eval", "generate"]);
    for (const c of commands) {
      const args = c.map((a, i) => (a.startsWith("./") ? path(a.slice(2)) : c[i - 1] === "--steps" ? "2" : a))
        .map((a) => (/^[\w-]+\.jsonl$/.test(a) ? path(a) : a));
      const r = await cli([...args, "--backend", "node"]);
      assert.equal(r.code, 0, `${c.join(" ")}: ${r.err}`);
      if (c[0] === "train") assert.ok(Number.isFinite(r.json!.loss_end as number));
      if (c[0] === "eval") assert.ok((r.json!.tokens as number) > 0);
      if (c[0] === "generate") assert.equal(typeof r.json!.text, "string");
    }
    const exported = JSON.parse(await Deno.readTextFile(path("qwen3-web/config.json")));
    assert.equal(exported.model_type, "qwen3");

    // the library snippet, with the same substitutions (its import names this module's entry point)
    assert.equal(ts.length, 1);
    assert.match(ts[0], /^import \{ finetune, generate \} from "posttrain";/);
    const body = ts[0].replace(/^import .*\n/, "")
      .replaceAll('"./', `"${root}/`)
      .replace(/"([\w-]+\.jsonl)"/g, `"${root}/$1"`)
      .replace("steps: 300", "steps: 2")
      .replace("lr: 2e-4,", 'lr: 2e-4, backend: "node", log: () => {},')
      .replace('adapter: "', 'backend: "node", adapter: "')
      .replace("const { text } =", "return");
    const run = new Function("finetune", "generate", `return (async () => { ${body} })();`);
    const out = await run(finetune, generate) as { text: string };
    assert.equal(typeof out.text, "string");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
