/** CLI progress (a bar on a terminal, plain lines elsewhere) and `--help` from the zod schemas. */
import assert from "node:assert/strict";
import { Progress } from "../../src/cli/progress.ts";
import { TrainFlags } from "../../src/cli/train.ts";
import { cli } from "./_cli.ts";
import { main } from "../../src/cli/main.ts";

Deno.test("progress: plain lines off a terminal, one per step, with loss and ETA", () => {
  const out: string[] = [];
  const p = new Progress(3, { tty: false, write: (s) => out.push(s) });
  p.log("loading");
  p.step({ step: 1, loss: 2.5, lr: 1e-3, gradNorm: 0.5, tokensPerS: 400, etaS: 8 });
  p.step({ step: 2, loss: 2, lr: 1e-3, tokensPerS: 410, etaS: 4 });
  p.done();
  assert.deepEqual(out, [
    "loading\n",
    "step 1/3 loss 2.5000 lr 1.00e-3 |g| 0.500 400 tok/s ETA 8 s\n",
    "step 2/3 loss 2.0000 lr 1.00e-3 410 tok/s ETA 4 s\n",
  ]);
});

Deno.test("progress: on a terminal one bar redrawn in place, log lines printed above it, a newline at the end", () => {
  const out: string[] = [];
  const p = new Progress(4, { tty: true, write: (s) => out.push(s) });
  p.step({ step: 1, loss: 3, etaS: 30 });
  p.log("checkpoint written");
  p.step({ step: 4, loss: 1, etaS: 0 });
  p.done();
  const CLEAR = "\r\x1b[2K"; // back to the line's start, erase it
  assert.ok(out.slice(0, 3).every((s) => s.startsWith(CLEAR)));
  const [a, b, c] = out.slice(0, 3).map((s) => s.slice(CLEAR.length));
  assert.match(a, /^█{6}░{18} {2}25% 1\/4 loss 3\.0000 ETA 30s$/);
  assert.match(b, /^checkpoint written\n█{6}░{18} {2}25% 1\/4/);
  assert.match(c, /^█{24} 100% 4\/4 loss 1\.0000 ETA 0s$/);
  assert.equal(out[3], "\n");
  assert.ok(out.every((s) => !s.includes("{")), "nothing JSON-like goes to stderr");
});

Deno.test("cli --help lists the commands; <command> --help lists every flag with its description and default", async () => {
  const out: string[] = [];
  const log = console.log;
  console.log = (s: string) => out.push(s);
  try {
    assert.equal(await main(["--help"]), 0);
    assert.equal(await main(["train", "--help"]), 0);
  } finally {
    console.log = log;
  }
  assert.match(out[0], /commands:\n {2}train +fine-tune/);
  for (
    const c of ["eval", "generate", "unlearn", "coreset", "plan", "grad", "logits", "export", "apply-update"]
  ) {
    assert.match(out[0], new RegExp(`\\n  ${c} `), c);
  }
  const train = out[1];
  for (const key of Object.keys(TrainFlags.shape)) {
    const flag = "--" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
    assert.match(train, new RegExp(`\\n  ${flag}\\b`), flag);
  }
  assert.match(train, /--batch-size N +rows per micro-batch \(default 8\)/);
  assert.match(train, /--method full\|lora\|galore\|qgalore\|dct +fine-tuning method \(default "full"\)/);
  assert.match(train, /--model S +HF model dir, or 'default' \(required\)/);
  assert.match(train, /--resume +continue from --checkpoint-dir \(default false\)/);
  // an unknown command still fails, naming it
  const bad = await cli(["trian"]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /unknown command "trian"/);
});
