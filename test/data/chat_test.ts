/**
 * Chat rows on real chat templates (Qwen3, Llama 3.1, Gemma 3): the tokens are the rendered conversation's
 * and exactly the assistant turns (through their end-of-turn token) carry loss, checked token by token;
 * tools, ShareGPT and Alpaca rows; a model dir without a chat template is a clear error.
 */
import assert from "node:assert/strict";
import { encodeRows, loadTokenizer, type Tok } from "../../src/data/tokenize.ts";
import { type ChatTok, renderChat } from "../../src/data/chat.ts";
import { parseJsonl } from "../../src/data/rows.ts";
import { type RealTokenizer, writeRealTokenizer } from "./_real_tokenizers.ts";

const toks = new Map<string, Promise<Tok>>();
function realTok(name: RealTokenizer, chatTemplate = true): Promise<Tok> {
  const key = `${name}:${chatTemplate}`;
  if (!toks.has(key)) {
    toks.set(
      key,
      (async () => {
        const dir = await Deno.makeTempDir();
        await writeRealTokenizer(dir, name, { chatTemplate });
        return await loadTokenizer(dir);
      })(),
    );
  }
  return toks.get(key)!;
}

/** Split an example into maximal runs of loss / no-loss tokens, decoded (special tokens kept). */
function runs(tok: Tok, inputIds: Int32Array, labels: Int32Array): { loss: string[]; all: string } {
  // labels are shifted: token t+1 carries loss iff labels[t] ≠ −100 (and then labels[t] is that token)
  const isLoss = Array.from(inputIds, (_, t) => t > 0 && labels[t - 1] !== -100);
  labels.forEach((l, t) => l !== -100 && assert.equal(l, inputIds[t + 1], `label ${t} is the next token`));
  const loss: string[] = [];
  let cur: number[] = [];
  isLoss.forEach((l, t) => {
    if (l) cur.push(inputIds[t]);
    else if (cur.length) (loss.push(tok.decode(cur)), (cur = []));
  });
  if (cur.length) loss.push(tok.decode(cur));
  return { loss, all: tok.decode(Array.from(inputIds)) };
}

const CONVERSATION = [
  { role: "user", content: "What is the capital of France?" },
  { role: "assistant", content: "Paris." },
  { role: "user", content: "And of Germany?" },
  { role: "assistant", content: "Berlin." },
];

const EXPECTED: Record<RealTokenizer, { text: string; loss: string[] }> = {
  qwen3: {
    text:
      "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n" +
      "<|im_start|>assistant\nParis.<|im_end|>\n<|im_start|>user\nAnd of Germany?<|im_end|>\n" +
      "<|im_start|>assistant\n<think>\n\n</think>\n\nBerlin.<|im_end|>\n",
    loss: ["Paris.<|im_end|>", "<think>\n\n</think>\n\nBerlin.<|im_end|>"],
  },
  llama3_1: {
    text: "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe terse.<|eot_id|>" +
      "<|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|>" +
      "<|start_header_id|>assistant<|end_header_id|>\n\nParis.<|eot_id|>" +
      "<|start_header_id|>user<|end_header_id|>\n\nAnd of Germany?<|eot_id|>" +
      "<|start_header_id|>assistant<|end_header_id|>\n\nBerlin.<|eot_id|>",
    loss: ["Paris.<|eot_id|>", "Berlin.<|eot_id|>"],
  },
  gemma3: {
    text: "<bos><start_of_turn>user\nBe terse.\n\nWhat is the capital of France?<end_of_turn>\n" +
      "<start_of_turn>model\nParis.<end_of_turn>\n<start_of_turn>user\nAnd of Germany?<end_of_turn>\n" +
      "<start_of_turn>model\nBerlin.<end_of_turn>\n",
    loss: ["Paris.<end_of_turn>", "Berlin.<end_of_turn>"],
  },
};

for (const name of ["qwen3", "llama3_1", "gemma3"] as const) {
  Deno.test(`${name} chat template: exactly the assistant turns carry loss, token by token`, async () => {
    const tok = await realTok(name);
    const messages = [{ role: "system", content: "Be terse." }, ...CONVERSATION];
    const [ex] = encodeRows([{ messages }], { tokenizer: tok, maxLength: 4096 });
    const text = renderChat(tok as ChatTok, messages);
    assert.equal(text, EXPECTED[name].text);
    assert.deepEqual(Array.from(ex.inputIds), tok.encode(text, { add_special_tokens: false }), "tokens");
    const r = runs(tok, ex.inputIds, ex.labels);
    assert.equal(r.all, text);
    assert.deepEqual(r.loss, EXPECTED[name].loss);

    // ShareGPT and Alpaca rows become the same conversation
    const [sg] = encodeRows(
      parseJsonl(JSON.stringify({
        system: "Be terse.",
        conversations: messages.slice(1).map((m) => ({
          from: m.role === "user" ? "human" : "gpt",
          value: m.content,
        })),
      })),
      { tokenizer: tok, maxLength: 4096 },
    );
    assert.deepEqual([sg.inputIds, sg.labels], [ex.inputIds, ex.labels]);
    const [al] = encodeRows([{ instruction: "What is the capital", input: "of France?", output: "Paris." }], {
      tokenizer: tok,
      maxLength: 4096,
    });
    const [ch] = encodeRows([{
      messages: [{ role: "user", content: "What is the capital\n\nof France?" }, {
        role: "assistant",
        content: "Paris.",
      }],
    }], { tokenizer: tok, maxLength: 4096 });
    assert.deepEqual([al.inputIds, al.labels], [ch.inputIds, ch.labels]);
  });
}

Deno.test("qwen3 chat template with tools: tool calls are assistant loss, tool results are not", async () => {
  const tok = await realTok("qwen3");
  const tools = [{
    type: "function",
    function: {
      name: "get_weather",
      description: "Weather in a city",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  }];
  const messages = [
    { role: "user", content: "Weather in Paris?" },
    {
      role: "assistant",
      content: "",
      tool_calls: [{ type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } }],
    },
    { role: "tool", content: "22 C" },
    { role: "assistant", content: "It is 22 C in Paris." },
  ];
  const [ex] = encodeRows([{ messages, tools }], { tokenizer: tok, maxLength: 4096 });
  const r = runs(tok, ex.inputIds, ex.labels);
  assert.ok(
    r.all.includes('"name": "get_weather"') && r.all.includes("<tools>"),
    "tools rendered in the system turn",
  );
  assert.ok(r.all.includes("<tool_response>\n22 C\n</tool_response>"));
  assert.deepEqual(r.loss, [
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>',
    "<think>\n\n</think>\n\nIt is 22 C in Paris.<|im_end|>",
  ]);
});

Deno.test("chat rows: no chat template, no assistant turn and unknown ShareGPT roles are errors naming the row", async () => {
  const base = await realTok("qwen3", false);
  assert.throws(
    () =>
      encodeRows(parseJsonl('{"messages": [{"role": "user", "content": "hi"}]}', "d.jsonl"), {
        tokenizer: base,
        maxLength: 64,
      }),
    /d\.jsonl line 1 is a chat row \(messages\): the model dir has no chat template/,
  );
  // Alpaca without a chat template: Stanford Alpaca's prompt, loss on the output and EOS
  const [al] = encodeRows([{ instruction: "Say hi.", output: "Hi" }], { tokenizer: base, maxLength: 256 });
  const r = runs(base, al.inputIds, al.labels);
  assert.ok(
    r.all.startsWith("Below is an instruction that describes a task.") && r.all.includes("### Response:"),
  );
  assert.deepEqual(r.loss, ["Hi<|im_end|>"]);

  const tok = await realTok("qwen3");
  assert.throws(
    () => encodeRows([{ messages: [{ role: "user", content: "hi" }] }], { tokenizer: tok, maxLength: 64 }),
    /row 1: the conversation has no assistant message/,
  );
  assert.throws(
    () => encodeRows([{ conversations: [{ from: "bot", value: "hi" }] }], { tokenizer: tok, maxLength: 64 }),
    /"conversations"\[0\]\.from is "bot", not one of/,
  );
  assert.throws(
    () => parseJsonl('{"messages": [{"role": "user"}]}', "d.jsonl"),
    /d\.jsonl line 1: "messages"\[0\]\[content\] must be a string/,
  );
});
