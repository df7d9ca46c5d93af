/**
 * Side-by-side train-step throughput: this module's backends and the PyTorch peer
 * (../shared/peers/torch_train_step.py run with /usr/bin/python3, 2 threads), one shape at a time.
 * Usage: deno run -A bench/compare.ts [--shapes tiny,default,gpt2,smollm] [--backends node,wasm,wasm1,lean]
 *        [--peer false] [--rounds 1]
 * `wasm1` is onnxruntime-web at one thread (lean's thread count); `lean-norc` is lean without
 * recomputation. With several rounds each row is the median of its rounds (the backends alternate, so a
 * change in the machine's load falls on all of them). Prints a markdown table (× PyTorch and × wasm1
 * where measured); the last line is the JSON of all rows.
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    shapes: { type: "string", default: "tiny,gpt2,smollm" },
    backends: { type: "string", default: "node,wasm" },
    peer: { type: "string", default: "true" },
    rounds: { type: "string", default: "1" },
  },
});
const peer = new URL("../../shared/peers/torch_train_step.py", import.meta.url).pathname;

async function run(cmd: string, args: string[], env?: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit", env }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${text}`);
  return text.split("\n").at(-1)!;
}

const rows: Record<string, unknown>[] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const shape of values.shapes.split(",")) {
  let torch: number | undefined;
  if (values.peer !== "false" && shape !== "default") {
    const p = await run("/usr/bin/python3", [peer, shape, "2"]);
    torch = Number(p.match(/tokens\/s=(\d+)/)![1]);
    rows.push({
      shape,
      backend: "pytorch",
      tokens_per_s: torch,
      ms_per_step: Number(p.match(/ms\/step=(\d+)/)![1]),
    });
  }
  const backends = values.backends.split(","), runs = new Map<string, Record<string, number>[]>();
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const name of backends) {
      const backend = name === "wasm1" ? "wasm" : name === "lean-norc" ? "lean" : name;
      const args = ["run", "-A", "bench/train.ts", "--shape", shape, "--backend", backend];
      if (name === "lean-norc") args.push("--recompute", "false");
      const env = name === "wasm1" ? { POSTTRAIN_WASM_THREADS: "1" } : undefined;
      (runs.get(name) ?? runs.set(name, []).get(name)!).push(
        JSON.parse(await run(Deno.execPath(), args, env)),
      );
    }
  }
  const tps = (name: string) => median(runs.get(name)?.map((r) => r.tokens_per_s) ?? [NaN]);
  for (const name of backends) {
    const rs = runs.get(name)!, t = tps(name);
    rows.push({
      shape,
      backend: name,
      tokens_per_s: t,
      ms_per_step: median(rs.map((r) => r.ms_per_step)),
      peak_rss_mb: median(rs.map((r) => r.peak_rss_mb)),
      ...(torch ? { vs_pytorch: Number((t / torch).toFixed(2)) } : {}),
      ...(runs.has("wasm1") ? { vs_wasm1: Number((t / tps("wasm1")).toFixed(2)) } : {}),
    });
  }
}
console.log(
  "| shape | backend | tokens/s | ms/step | peak RSS MB | × PyTorch | × wasm1 |\n|---|---|---|---|---|---|---|",
);
for (const r of rows) {
  console.log(
    `| ${r.shape} | ${r.backend} | ${r.tokens_per_s} | ${r.ms_per_step} | ${r.peak_rss_mb ?? "—"} | ${
      r.vs_pytorch ?? (r.backend === "pytorch" ? "1.00" : "—")
    } | ${r.vs_wasm1 ?? "—"} |`,
  );
}
console.log(JSON.stringify(rows));
