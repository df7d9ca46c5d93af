/** Tokenization and label shifting (src/data/tokenize.ts), with a fake and a real (tiny BPE) tokenizer. */
import assert from "node:assert/strict";
import { parseJsonl } from "../../src/data/rows.ts";
import { encodeRows, loadTokenizer, type Tok } from "../../src/data/tokenize.ts";
import { TINY_BOS, TINY_EOS, TINY_VOCAB, writeTinyTokenizer } from "./_fixtures.ts";

/** One token per character (its char code); BOS = 1 added by default when `bos`, EOS = 2. */
function fakeTok({ bos = false, eos = true } = {}): Tok {
  return {
    bos_token_id: bos ? 1 : null,
    eos_token_id: eos ? 2 : null,
    encode: (
      text,
      o,
    ) => [...(bos && o?.add_special_tokens !== false ? [1] : []), ...[...text].map((c) => c.charCodeAt(0))],
    decode: (ids) => String.fromCharCode(...ids),
  };
}
const arr = (a: Int32Array) => [...a];
const A = 65, B = 66, C = 67, X = 88, Y = 89;

Deno.test("text rows: loss on every token, labels shifted, last label -100", () => {
  const [ex] = encodeRows([{ text: "ABC" }], { tokenizer: fakeTok(), maxLength: 8 });
  assert.deepEqual(arr(ex.inputIds), [A, B, C]);
  assert.deepEqual(arr(ex.labels), [B, C, -100]);
  assert.equal(ex.row, 1);
});

Deno.test("prompt/completion: loss only on completion tokens and the EOS after them", () => {
  const [ex] = encodeRows([{ prompt: "AB", completion: "XY" }], { tokenizer: fakeTok(), maxLength: 8 });
  assert.deepEqual(arr(ex.inputIds), [A, B, X, Y, 2]);
  assert.deepEqual(arr(ex.labels), [-100, X, Y, 2, -100]);
  const [qa] = encodeRows([{ question: "AB", answer: "XY" }], { tokenizer: fakeTok(), maxLength: 8 });
  assert.deepEqual(qa, ex);
  const [noEos] = encodeRows([{ prompt: "AB", completion: "XY" }], {
    tokenizer: fakeTok({ eos: false }),
    maxLength: 8,
  });
  assert.deepEqual(arr(noEos.labels), [-100, X, Y, -100]);
  const [off] = encodeRows([{ prompt: "A", completion: "X" }], {
    tokenizer: fakeTok(),
    maxLength: 8,
    addEos: false,
  });
  assert.deepEqual(arr(off.inputIds), [A, X]);
});

Deno.test("BOS policy: tokenizer default, addBos true (no double BOS), addBos false", () => {
  const tokenizer = fakeTok({ bos: true });
  const row = [{ prompt: "A", completion: "X" }];
  const ids = (addBos?: boolean) => arr(encodeRows(row, { tokenizer, maxLength: 8, addBos })[0].inputIds);
  assert.deepEqual(ids(), [1, A, X, 2]);
  assert.deepEqual(ids(true), [1, A, X, 2]);
  assert.deepEqual(ids(false), [A, X, 2]);
  assert.deepEqual(
    arr(encodeRows([{ text: "A" }], { tokenizer: fakeTok(), maxLength: 8, addBos: false })[0].inputIds),
    [A],
  );
  assert.throws(() => encodeRows(row, { tokenizer: fakeTok(), maxLength: 8, addBos: true }), {
    message: "row 1: addBos is set but the tokenizer has no BOS",
  });
});

Deno.test("format hook maps pair rows to prompt/completion", () => {
  const [ex] = encodeRows([{ question: "A", answer: "X" }], {
    tokenizer: fakeTok({ eos: false }),
    maxLength: 8,
    format: (r) => ({
      prompt: `B${String(r.question ?? r.prompt)}`,
      completion: String(r.answer ?? r.completion),
    }),
  });
  assert.deepEqual(arr(ex.inputIds), [B, A, X]);
  assert.deepEqual(arr(ex.labels), [-100, X, -100]);
});

Deno.test("pre-tokenized rows: no tokenizer needed, explicit HF labels shifted, -100 kept", () => {
  const ex = encodeRows([
    { input_ids: [10, 11, 12, 13] },
    { input_ids: [10, 11, 12, 13], labels: [-100, -100, 12, 13] },
    { input_ids: [10, 11, 12, 13], labels: [10, 11, -100, 13] },
  ], { maxLength: 4 });
  assert.deepEqual(arr(ex[0].labels), [11, 12, 13, -100]);
  assert.deepEqual(arr(ex[1].labels), [-100, 12, 13, -100]);
  assert.deepEqual(arr(ex[2].labels), [11, -100, 13, -100]);
  assert.deepEqual(arr(ex[2].inputIds), [10, 11, 12, 13]);
});

Deno.test("too-long rows: error naming the line, or truncate keeps the first maxLength", () => {
  const rows = parseJsonl('{"input_ids": [1]}\n\n{"input_ids": [1, 2, 3, 4, 5]}\n', "data.jsonl");
  assert.throws(() => encodeRows(rows, { maxLength: 4 }), {
    message: "data.jsonl line 3: 5 tokens is longer than the model's context (4 tokens); " +
      "shorten the row or set truncate: true",
  });
  const ex = encodeRows(rows, { maxLength: 4, truncate: true });
  assert.deepEqual(ex.map((e) => e.row), [1, 3]);
  assert.deepEqual(arr(ex[1].inputIds), [1, 2, 3, 4]);
  assert.deepEqual(arr(ex[1].labels), [2, 3, 4, 5]);
  assert.throws(
    () => encodeRows([{ text: "ABCDE" }], { tokenizer: fakeTok(), maxLength: 3 }),
    /^Error: row 1: 5 tokens/,
  );
  assert.equal(encodeRows([{ input_ids: [1, 2, 3] }], { maxLength: 3 })[0].inputIds.length, 3);
});

Deno.test("errors: no tokenizer, vocab range, empty row, bad maxLength", () => {
  const rows = [{ input_ids: [1] }, { input_ids: [2] }, { text: "hi" }];
  assert.throws(() => encodeRows(rows, { maxLength: 8 }), {
    message: "row 3 is text: the model dir has no tokenizer.json",
  });
  assert.throws(
    () => encodeRows(parseJsonl('\n{"prompt": "a", "completion": "b"}', "d.jsonl"), { maxLength: 8 }),
    {
      message: "d.jsonl line 2 is prompt/completion: the model dir has no tokenizer.json",
    },
  );
  assert.throws(() => encodeRows([{ input_ids: [1, 50] }], { maxLength: 8, vocabSize: 50 }), {
    message: "row 1: token id 50 is out of range for the model (vocab size 50)",
  });
  assert.throws(
    () => encodeRows([{ input_ids: [1, 2], labels: [1, 70] }], { maxLength: 8, vocabSize: 50 }),
    /id 70/,
  );
  assert.throws(() => encodeRows([{ text: "" }], { tokenizer: fakeTok(), maxLength: 8 }), {
    message: "row 1: the row has no tokens",
  });
  assert.throws(() => encodeRows([{ text: "" }], { maxLength: 0 }), /maxLength must be a positive integer/);
  assert.throws(() => encodeRows([{ nope: 1 } as never], { maxLength: 8 }), /row 1: a row needs one of/);
});

Deno.test("real tokenizer: loadTokenizer + encode/decode round trip (absolute and relative dir)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeTinyTokenizer(dir);
    const tok = await loadTokenizer(dir);
    assert.equal(tok.eos_token_id, TINY_EOS);
    const text = "hello the world\nçà ✓ 🙂";
    const ids = tok.encode(text);
    assert.deepEqual(ids.slice(0, 3), [257, 260, 258]); // "he" "llo" "Ġthe" via merges
    assert.equal(tok.decode(ids), text);
    assert.ok(ids.every((i) => i < TINY_VOCAB));
    assert.deepEqual(tok.encode("<|endoftext|>"), [TINY_EOS]);

    const rel = await Deno.makeTempDir({ dir: ".", prefix: "posttrain-test-" });
    try {
      await writeTinyTokenizer(`${rel}/tok`);
      assert.deepEqual((await loadTokenizer(`${rel}/tok`)).encode(text), ids);
    } finally {
      await Deno.remove(rel, { recursive: true });
    }

    // prompt/completion through the real tokenizer: the loss tokens decode to the completion + EOS
    const [ex] = encodeRows([{ prompt: "the", completion: " hello world" }], {
      tokenizer: tok,
      maxLength: 64,
    });
    const targets = [...ex.labels].filter((l) => l !== -100);
    assert.equal(tok.decode(targets), " hello world<|endoftext|>");
    assert.equal(tok.decode([...ex.inputIds]), "the hello world<|endoftext|>");
    assert.equal(ex.labels[ex.labels.length - 1], -100);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("real tokenizer: BOS-adding flavour, missing files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeTinyTokenizer(`${dir}/llama`, { addBos: true });
    const tok = await loadTokenizer(`${dir}/llama`);
    assert.equal(tok.bos_token_id, TINY_BOS);
    assert.deepEqual(tok.encode("hello"), [TINY_BOS, 257, 260]);
    assert.equal(tok.decode(tok.encode("hello"), { skip_special_tokens: true }), "hello");
    const [ex] = encodeRows([{ prompt: "hello", completion: " the" }], { tokenizer: tok, maxLength: 16 });
    assert.deepEqual(arr(ex.inputIds), [TINY_BOS, 257, 260, 258, TINY_EOS]);
    assert.deepEqual(arr(ex.labels), [-100, -100, 258, TINY_EOS, -100]);

    // tokenizer.json without tokenizer_config.json still loads (base class, no BOS/EOS known)
    await writeTinyTokenizer(`${dir}/bare`);
    await Deno.remove(`${dir}/bare/tokenizer_config.json`);
    assert.deepEqual((await loadTokenizer(`${dir}/bare`)).encode("hello"), [257, 260]);

    await Deno.mkdir(`${dir}/empty`);
    await assert.rejects(loadTokenizer(`${dir}/empty`), { message: `${dir}/empty has no tokenizer.json` });
    await assert.rejects(loadTokenizer(`${dir}/missing`), {
      message: `tokenizer directory not found: ${dir}/missing`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("long texts are cut before tokenizing: an 8 MB row encodes a few KB, with the whole text's example", async () => {
  const dirs = [await Deno.makeTempDir()];
  await writeTinyTokenizer(dirs[0]);
  const real = new URL("../../models/default", import.meta.url).pathname;
  if (await Deno.stat(`${real}/tokenizer.json`).then(() => true, () => false)) dirs.push(real);
  const words = ["the", "hello", "world,", "who?", "Grejez", "1977", "an", "archaeologist.", "\n", "  "];
  const text = (n: number) =>
    Array.from({ length: n }, (_, i) => words[(i * 7 + (i >> 3)) % words.length]).join(" ");
  const big = text(1_200_000), head = text(3000); // ≈ 8 MB; its first 20 KB, ending where a word does
  const maxLength = 64;
  for (const dir of dirs) {
    const tok = await loadTokenizer(dir);
    let longest = 0;
    const spy: Tok = {
      bos_token_id: tok.bos_token_id,
      eos_token_id: tok.eos_token_id,
      encode: (t, o) => (longest = Math.max(longest, t.length), tok.encode(t, o)),
      decode: (ids, o) => tok.decode(ids, o),
    };
    // what tokenizing the whole text gives: its first maxLength + 1 tokens decide the example
    const all = tok.encode(head), p = tok.encode("who?"), c = tok.encode(head, { add_special_tokens: false });
    const cases = [
      { row: { text: big }, tokens: all, targets: all },
      { row: { prompt: big, completion: " world" }, tokens: all, targets: all.map(() => -100) },
      {
        row: { prompt: "who?", completion: big },
        tokens: [...p, ...c],
        targets: [...p.map(() => -100), ...c],
      },
    ];
    for (const { row, tokens, targets } of cases) {
      longest = 0;
      const [ex] = encodeRows([row], { tokenizer: spy, maxLength, truncate: true });
      assert.ok(longest < 16 * 1024, `${dir}: encoded ${longest} characters of ${big.length}`);
      assert.deepEqual(arr(ex.inputIds), tokens.slice(0, maxLength), dir);
      assert.deepEqual(arr(ex.labels), targets.slice(1, maxLength + 1), dir);
    }
    assert.throws(
      () => encodeRows([{ text: big }], { tokenizer: spy, maxLength }),
      /row 1: over 64 tokens is longer than the model's context \(64 tokens\)/,
    );
  }
});
