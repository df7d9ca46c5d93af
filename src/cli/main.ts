/**
 * posttrain CLI: `deno task cli <command> [--flag value]…`. Progress goes to stderr (a bar on a
 * terminal, plain lines elsewhere); the last stdout line is one JSON object; bad input exits 1 with
 * a one-line error. `--help` (alone or after a command) prints the commands or the command's flags,
 * with descriptions and defaults from the zod schemas the flags are parsed with.
 */
import type { z } from "npm:zod@4.6.7";
import { gradCommand, GradFlags } from "./grad.ts";
import { logitsCommand, LogitsFlags } from "./logits.ts";
import { trainCommand, TrainFlags } from "./train.ts";
import { evalCommand, EvalFlags } from "./eval.ts";
import { generateCommand, GenerateFlags } from "./generate.ts";
import { exportCommand, ExportFlags } from "./export.ts";
import { coresetCommand, CoresetFlags } from "./coreset.ts";
import { applyUpdateCommand, ApplyUpdateFlags, unlearnCommand, UnlearnFlags } from "./unlearn.ts";
import { planCommand, PlanFlags } from "./plan.ts";
import { flagHelp } from "./help.ts";

interface Command {
  run: (argv: string[]) => Promise<unknown>;
  flags: z.ZodObject;
  does: string;
  prints: string;
}

const COMMANDS: Record<string, Command> = {
  train: {
    run: trainCommand,
    flags: TrainFlags,
    does: "fine-tune (full | lora | galore | qgalore | dct) and write an HF model dir or a PEFT adapter",
    prints: '{"loss_start","loss_end","steps","tokens_per_s","peak_rss_mb","optimizer_state_bytes"}',
  },
  eval: {
    run: evalCommand,
    flags: EvalFlags,
    does: "mean token NLL and perplexity",
    prints: '{"loss","ppl","tokens"}',
  },
  generate: { run: generateCommand, flags: GenerateFlags, does: "continue a prompt", prints: '{"text"}' },
  unlearn: {
    run: unlearnCommand,
    flags: UnlearnFlags,
    does: "unlearn forget rows, keep retain rows (kfade | wagle-graddiff | wagle-npo | ga | graddiff | npo)",
    prints: '{"forget_loss_before","forget_loss_after","retain_loss_before","retain_loss_after",…}',
  },
  coreset: {
    run: coresetCommand,
    flags: CoresetFlags,
    does: "select k training rows (cld | colm)",
    prints: '{"k",…} and writes {"indices","scores"}',
  },
  plan: {
    run: planCommand,
    flags: PlanFlags,
    does: "the memory a run needs, itemised, and the budgets it fits",
    prints: '{"total_bytes","items","exact","fits"}',
  },
  grad: {
    run: gradCommand,
    flags: GradFlags,
    does: "gradient of the mean token NLL, keyed by HF weight names",
    prints: '{"loss","tokens"}',
  },
  logits: { run: logitsCommand, flags: LogitsFlags, does: "logits of each row", prints: '{"rows"}' },
  export: {
    run: exportCommand,
    flags: ExportFlags,
    does: "a folder transformers.js loads offline",
    prints: '{"files"}',
  },
  "apply-update": {
    run: applyUpdateCommand,
    flags: ApplyUpdateFlags,
    does: "add a stored unlearning update (or recompute K-FADE's steps) to a model",
    prints: '{"tensors",…}',
  },
};

/** `--help` of the CLI: the commands. */
export function usage(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  return [
    "usage: deno task cli <command> [--flag value]…",
    "",
    "Progress goes to stderr; the last stdout line is one JSON object. `<command> --help` lists its flags.",
    "",
    "commands:",
    ...Object.entries(COMMANDS).map(([c, d]) => `  ${c.padEnd(w)} ${d.does}`),
  ].join("\n");
}

/** `<command> --help`: what it does, what it prints, its flags with descriptions and defaults. */
export function commandHelp(name: string): string {
  const c = COMMANDS[name];
  return [
    `usage: deno task cli ${name} [--flag value]…`,
    "",
    `${c.does}; prints ${c.prints}`,
    "",
    "flags:",
    ...flagHelp(c.flags),
  ].join("\n");
}

/** Run one CLI invocation; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === "--help" || cmd === "-h" || cmd === "help") {
    console.log(rest[0] && COMMANDS[rest[0]] ? commandHelp(rest[0]) : usage());
    return 0;
  }
  const command = cmd ? COMMANDS[cmd] : undefined;
  if (!command) {
    console.error(cmd ? `error: unknown command ${JSON.stringify(cmd)}\n\n${usage()}` : usage());
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(commandHelp(cmd));
    return 0;
  }
  try {
    console.log(JSON.stringify(await command.run(rest)));
    return 0;
  } catch (e) {
    console.error(`error: ${(e as Error).message.split("\n")[0]}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
