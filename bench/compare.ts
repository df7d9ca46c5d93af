/**
 * Side-by-side train-step throughput: this module's backends and the PyTorch peer
 * (../shared/peers/torch_train_step.py run with /usr/bin/python3, 2 threads), one shape at a time.
 * Usage: deno run -A bench/compare.ts [--shapes tiny,gpt2,smollm] [--backends node,wasm]
 * Prints a markdown table; the last line is the JSON of all rows.
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    shapes: { type: "string", default: "tiny,gpt2,smollm" },
    backends: { type: "string", default: "node,wasm" },
  },
});
const peer = new URL("../../shared/peers/torch_train_step.py", import.meta.url).pathname;

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${text}`);
  return text.split("\n").at(-1)!;
}

const rows: Record<string, unknown>[] = [];
for (const shape of values.shapes.split(",")) {
  const p = await run("/usr/bin/python3", [peer, shape, "2"]);
  const torch = Number(p.match(/tokens\/s=(\d+)/)![1]);
  rows.push({
    shape,
    backend: "pytorch",
    tokens_per_s: torch,
    ms_per_step: Number(p.match(/ms\/step=(\d+)/)![1]),
  });
  for (const backend of values.backends.split(",")) {
    const r = JSON.parse(
      await run(Deno.execPath(), ["run", "-A", "bench/train.ts", "--shape", shape, "--backend", backend]),
    );
    rows.push({ ...r, vs_pytorch: Number((r.tokens_per_s / torch).toFixed(2)) });
  }
}
console.log("| shape | backend | tokens/s | ms/step | peak RSS MB | × PyTorch |\n|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.shape} | ${r.backend} | ${r.tokens_per_s} | ${r.ms_per_step} | ${r.peak_rss_mb ?? "—"} | ${
      r.vs_pytorch ?? "1.00"
    } |`,
  );
}
console.log(JSON.stringify(rows));
