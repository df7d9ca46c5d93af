/** Byte-level BPE trainer (src/build/bpe.ts): loads in transformers.js, same ids as our encoder, determinism. */
import assert from "node:assert/strict";
import { BYTE_CHARS, encodeBpe, trainBpe, writeTokenizer } from "../../src/build/bpe.ts";
import { buildCorpus } from "../../src/build/corpus.ts";
import { loadTokenizer } from "../../src/data/tokenize.ts";

const corpus = buildCorpus({ seed: 0, people: 100, stories: 2000 });
const trained = trainBpe(corpus.train, { vocabSize: 1024 });
const dir = await Deno.makeTempDir();
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
await writeTokenizer(dir, trained);
const tok = await loadTokenizer(dir);

const TRICKY = [
  "",
  "Hello, world!",
  "  leading and trailing spaces  ",
  "tabs\tand\nnewlines\r\n\n\nthree blank lines",
  "naïve café, Ünïcödé – “quotes” — ½ ∑ ≠ ∞",
  "emoji 😀🎉👩‍👩‍👧 and flags 🇫🇷 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
  "日本語のテキスト 中文 한국어 עברית العربية",
  "it's they're we've I'm you'll he'd 's 't",
  "numbers 1234567890 3.14159 -42 1e10",
  "<|endoftext|>",
  "before<|endoftext|>after <|endoftext|> <|endoftext|><|endoftext|>",
  "<|endof text|> <|user|>\nhi<|endoftext|>\n",
  "\u0000\u0001 control \u007f chars \u00ad soft hyphen",
  "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich",
  "x".repeat(300) + " " + " ".repeat(50) + "!",
];

Deno.test("layout: bytes at 0..255, <|endoftext|> = 256, contiguous ids, merges are vocab entries", () => {
  const { vocab, merges } = trained.tokenizerJson.model;
  BYTE_CHARS.forEach((c, i) => assert.equal(vocab[c], i));
  assert.equal(vocab["<|endoftext|>"], 256);
  assert.deepEqual(trained.tokenizerJson.added_tokens.map((t) => [t.id, t.content, t.special]), [
    [256, "<|endoftext|>", true],
  ]);
  const ids = Object.values(vocab).sort((a, b) => a - b);
  assert.equal(ids.length, 1024);
  assert.deepEqual(ids, ids.map((_, i) => i));
  assert.ok(merges.length >= 1024 - 257);
  for (const [l, r] of merges) assert.ok(l in vocab && r in vocab && l + r in vocab);
  assert.equal(trained.tokenizerConfig.eos_token, "<|endoftext|>");
  assert.equal(tok.eos_token_id, 256);
});

Deno.test("transformers.js loads it; encode→decode round-trips arbitrary text", () => {
  for (const s of [...TRICKY, ...corpus.heldout.slice(0, 50)]) {
    const ids = tok.encode(s);
    if (s === "") { // transformers.js refuses to decode []
      assert.deepEqual(ids, []);
      continue;
    }
    assert.equal(tok.decode(ids), s, JSON.stringify(s));
    assert.ok(ids.every((i) => Number.isInteger(i) && i >= 0 && i < 1024));
  }
});

Deno.test("encodeBpe gives the same ids as transformers.js", () => {
  const lines = [...corpus.heldout.slice(0, 150), ...corpus.train.slice(0, 150), ...TRICKY];
  for (const s of lines) assert.deepEqual(encodeBpe(trained, s), tok.encode(s), JSON.stringify(s));
});

Deno.test("special token encodes to its single id; merges compress held-out text", () => {
  assert.deepEqual(tok.encode("<|endoftext|>"), [256]);
  assert.deepEqual(encodeBpe(trained, "<|endoftext|>"), [256]);
  assert.equal(tok.encode("The end.<|endoftext|>").at(-1), 256);
  assert.equal(tok.decode([256]), "<|endoftext|>");
  let tokens = 0, bytes = 0;
  for (const s of corpus.heldout) {
    tokens += encodeBpe(trained, s).length;
    bytes += new TextEncoder().encode(s).length;
  }
  const ratio = tokens / bytes;
  console.log(
    `vocab 1024: ${ratio.toFixed(3)} tokens/byte on held-out text (${(1 / ratio).toFixed(2)} bytes/token)`,
  );
  assert.ok(ratio < 0.4, `tokens per byte ${ratio}`);
});

Deno.test("chat template renders with transformers.js", () => {
  const t = tok as unknown as {
    apply_chat_template(m: { role: string; content: string }[], o: object): string;
  };
  const out = t.apply_chat_template([{ role: "user", content: "Hi" }], {
    tokenize: false,
    add_generation_prompt: true,
  });
  assert.equal(out, "<|user|>\nHi<|endoftext|>\n<|assistant|>\n");
});

Deno.test("training is deterministic; ties broken by count, then lexicographic pair", () => {
  const a = JSON.stringify(trainBpe(corpus.train.slice(0, 500), { vocabSize: 600 }));
  const b = JSON.stringify(trainBpe(corpus.train.slice(0, 500), { vocabSize: 600 }));
  assert.equal(a, b);
  const tie = trainBpe(["cd", "ab", "cd ab"], { vocabSize: 259, minFrequency: 1 });
  assert.deepEqual(tie.tokenizerJson.model.merges, [["a", "b"], ["c", "d"]]);
  const top = trainBpe(["xy xy xy", "ab"], { vocabSize: 258, minFrequency: 1 });
  assert.deepEqual(top.tokenizerJson.model.merges, [["x", "y"]]);
  // minFrequency stops training early: every pair occurs once, so no merges at all
  const none = trainBpe(["abc def"], { vocabSize: 400 });
  assert.equal(none.tokenizerJson.model.merges.length, 0);
  assert.equal(Object.keys(none.tokenizerJson.model.vocab).length, 257);
  assert.throws(() => trainBpe(["x"], { vocabSize: 100 }), /vocabSize/);
  assert.throws(() => trainBpe(["x"], { vocabSize: 300, specialTokens: [] }), /special/);
});

Deno.test("specials in training text never take part in merges; extra specials get ids 257..", () => {
  const t = trainBpe(["<|endoftext|><|endoftext|> hi<|pad|>", "<|endoftext|>"], {
    vocabSize: 300,
    specialTokens: ["<|endoftext|>", "<|pad|>"],
    minFrequency: 1,
  });
  assert.equal(t.tokenizerJson.model.vocab["<|pad|>"], 257);
  assert.ok(t.tokenizerJson.model.merges.every(([l, r]) => !`${l}${r}`.includes("|")));
  assert.deepEqual(encodeBpe(t, "<|pad|><|endoftext|>"), [257, 256]);
});

Deno.test("timing: 4,096-token vocab on the generated corpus (printed)", () => {
  const big = buildCorpus({ seed: 0, people: 400, stories: 11_000 }).train;
  const mb = new TextEncoder().encode(big.join("\n")).length / 1e6;
  const t0 = performance.now();
  const t = trainBpe(big, { vocabSize: 4096 });
  const secs = (performance.now() - t0) / 1000;
  const size = Object.keys(t.tokenizerJson.model.vocab).length;
  let tokens = 0, bytes = 0;
  for (const s of big.slice(0, 2000)) {
    tokens += encodeBpe(t, s).length;
    bytes += new TextEncoder().encode(s).length;
  }
  console.log(
    `trainBpe: ${mb.toFixed(2)} MB, ${big.length} texts → vocab ${size} in ${secs.toFixed(2)} s; ` +
      `${(tokens / bytes).toFixed(3)} tokens/byte`,
  );
  assert.ok(size <= 4096);
});
