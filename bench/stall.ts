/**
 * Stall count (issue 12.2): run a command `--runs` times beside two CPU burners and count the runs
 * that do not exit within `--timeout-s` (killed then). For each, the threads of the stuck process
 * are listed (Linux): the onnxruntime-web stall was the main thread running with no pool worker
 * thread left. `{rows}` in the command is replaced by a JSONL file of the first 8 rows of
 * data/new_facts.train.jsonl, `{out}` by a fresh temp dir. The default command is the CLI
 * repro: `train --model default --method galore --steps 1 --batch-size 2` on 8 rows, default threads.
 * Usage: deno run -A bench/stall.ts [--runs 12] [--timeout-s 90] [--burners 2] [-- command …]
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const { values: a, positionals } = parseArgs({
  options: {
    runs: { type: "string", default: "12" },
    "timeout-s": { type: "string", default: "90" },
    burners: { type: "string", default: "2" },
  },
  allowPositionals: true,
});
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const cmd = positionals.length ? positionals : [
  Deno.execPath(),
  "run",
  "-A",
  "src/cli/main.ts",
  "train",
  "--model",
  "default",
  "--method",
  "galore",
  "--steps",
  "1",
  "--batch-size",
  "2",
  "--data",
  "{rows}",
  "--out",
  "{out}",
];
const tmp = await Deno.makeTempDir({ prefix: "stall-" });
const rows = join(tmp, "rows.jsonl");
const lines = (await Deno.readTextFile(join(ROOT, "data/new_facts.train.jsonl"))).trim().split("\n");
await Deno.writeTextFile(rows, lines.slice(0, 8).join("\n") + "\n");

/** Name, state and CPU ticks of each thread of `pid`. */
function threads(pid: number): string[] {
  try {
    return [...Deno.readDirSync(`/proc/${pid}/task`)].map((t) => {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return `${name} ${f[0]} utime=${f[11]}`;
    });
  } catch {
    return [];
  }
}

const burners = Array.from(
  { length: Number(a.burners) },
  () => new Deno.Command("sh", { args: ["-c", "while :; do :; done"], stdout: "null" }).spawn(),
);
const seconds: number[] = [];
let hangs = 0;
try {
  for (let i = 0; i < Number(a.runs); i++) {
    const out = join(tmp, `out-${i}`);
    const args = cmd.map((s) => s.replace("{rows}", rows).replace("{out}", out));
    const t0 = performance.now(), load = Deno.loadavg()[0];
    const p = new Deno.Command(args[0], { args: args.slice(1), cwd: ROOT, stdout: "null", stderr: "null" })
      .spawn();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((
      r,
    ) => (timer = setTimeout(() => r("timeout"), Number(a["timeout-s"]) * 1000)));
    const r = await Promise.race([p.status, timedOut]);
    clearTimeout(timer);
    if (r === "timeout") {
      hangs++;
      console.error(
        `run ${i + 1}: HANG (load ${load.toFixed(1)}); threads:\n  ${threads(p.pid).join("\n  ")}`,
      );
      p.kill("SIGKILL");
      await p.status;
    } else {
      seconds.push((performance.now() - t0) / 1000);
      console.error(
        `run ${i + 1}: exit ${r.code} in ${seconds.at(-1)!.toFixed(1)} s (load ${load.toFixed(1)})`,
      );
    }
  }
} finally {
  burners.forEach((b) => b.kill("SIGKILL"));
  await Promise.all(burners.map((b) => b.status));
}
const sorted = [...seconds].sort((x, y) => x - y);
console.log(JSON.stringify({
  runs: Number(a.runs),
  hangs,
  finished_s_p50: sorted.length ? Math.round(sorted[Math.floor((sorted.length - 1) / 2)] * 10) / 10 : null,
  finished_s_max: sorted.length ? Math.round(sorted.at(-1)! * 10) / 10 : null,
  command: cmd.map((s) => (s === Deno.execPath() ? "deno" : s)).join(" "),
}));
