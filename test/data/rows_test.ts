/** Row parsing (src/data/rows.ts): accepted shapes and each error message. */
import assert from "node:assert/strict";
import { parseJsonl, readJsonl, rowKind, rowOrigin, RowSchema, validateRow } from "../../src/data/rows.ts";

Deno.test("parseJsonl: every row kind, extra fields kept, empty lines skipped", () => {
  const text = [
    '{"text": "hello", "source": "wiki"}',
    "",
    '{"prompt": "2+2=", "completion": "4", "id": 7}',
    "   ",
    '{"question": "Capital of France?", "answer": "Paris"}',
    '{"input_ids": [1, 2, 3]}',
    '{"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}\r',
    "",
    '{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}',
    '{"conversations": [{"from": "human", "value": "hi"}], "system": "s"}',
    '{"instruction": "Add.", "input": "1+1", "output": "2"}',
  ].join("\n");
  const rows = parseJsonl(text, "d.jsonl");
  assert.equal(rows.length, 8);
  assert.deepEqual(rows.slice(5).map((r) => rowKind(r)), ["messages", "conversations", "instruction"]);
  assert.deepEqual(rows[0], { text: "hello", source: "wiki" });
  assert.deepEqual(rows[1], { prompt: "2+2=", completion: "4", id: 7 });
  assert.deepEqual(rows[4], { input_ids: [1, 2, 3], labels: [-100, 2, 3] });
  assert.deepEqual(rows.slice(0, 5).map((r) => rowKind(r)), [
    "text",
    "prompt",
    "question",
    "input_ids",
    "input_ids",
  ]);
  assert.deepEqual(rows.map((r) => rowOrigin(r)?.line), [1, 3, 5, 6, 7, 9, 10, 11]);
  assert.equal(rowOrigin(rows[0])?.source, "d.jsonl");
});

Deno.test("parseJsonl: input_ids wins over a kept text field", () => {
  const [row] = parseJsonl('{"input_ids": [4, 5], "text": "ab"}');
  assert.equal(rowKind(row), "input_ids");
  assert.equal(row.text, "ab");
});

Deno.test("parseJsonl: error messages name the source and line", () => {
  const cases: [string, string][] = [
    ['{"prompt": "x", "completion": 3}', '"completion" must be a string'],
    ['{"prompt": "x"}', '"completion" must be a string'],
    ['{"question": 1, "answer": "a"}', '"question" must be a string'],
    ['{"text": null}', '"text" must be a string'],
    ['{"text": "a"', "invalid JSON"],
    [
      '{"foo": 1}',
      "a row needs one of text, prompt+completion, question+answer, input_ids, messages, " +
      "conversations (ShareGPT), instruction+output (Alpaca)",
    ],
    ["[1, 2]", "a row must be a JSON object"],
    ['"just a string"', "a row must be a JSON object"],
    ['{"input_ids": [1, -2]}', '"input_ids"[1] must be a non-negative integer'],
    ['{"input_ids": [1, 2.5]}', '"input_ids"[1] must be a non-negative integer'],
    ['{"input_ids": []}', '"input_ids" must not be empty'],
    ['{"input_ids": "1 2"}', '"input_ids" must be an array of non-negative integers'],
    ['{"labels": [1]}', '"input_ids" must be an array of non-negative integers'],
    ['{"input_ids": [1, 2], "labels": [1, -5]}', '"labels"[1] must be an integer ≥ 0 or -100'],
    [
      '{"input_ids": [1, 2], "labels": [1]}',
      '"labels" has length 1 but "input_ids" has length 2; they must be equal',
    ],
  ];
  for (const [line, msg] of cases) {
    const text = `{"text": "ok"}\n\n${line}\n{"text": "after"}`;
    assert.throws(() => parseJsonl(text, "data.jsonl"), { message: `data.jsonl line 3: ${msg}` }, line);
  }
  assert.throws(() => parseJsonl("{}"), {
    message:
      "data line 1: a row needs one of text, prompt+completion, question+answer, input_ids, messages, " +
      "conversations (ShareGPT), instruction+output (Alpaca)",
  });
});

Deno.test("validateRow and RowSchema agree on good rows", () => {
  for (const row of [{ text: "a" }, { prompt: "a", completion: "b" }, { input_ids: [0], labels: [-100] }]) {
    assert.deepEqual(validateRow(row, "row 1"), row);
    assert.ok(RowSchema.safeParse(row).success);
  }
  assert.ok(!RowSchema.safeParse({ prompt: "a" }).success);
  assert.throws(() => validateRow({ answer: "b" }, "row 9"), {
    message: 'row 9: "question" must be a string',
  });
});

Deno.test("readJsonl: reads a file, errors name a missing path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/train.jsonl`;
    await Deno.writeTextFile(path, '{"text": "a"}\n\n{"text": 5}\n');
    await assert.rejects(readJsonl(path), { message: `${path} line 3: "text" must be a string` });
    await Deno.writeTextFile(path, '{"text": "a"}\n{"text": "b"}\n');
    assert.equal((await readJsonl(path)).length, 2);
    await assert.rejects(readJsonl(`${dir}/nope.jsonl`), {
      message: `data file not found: ${dir}/nope.jsonl`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
