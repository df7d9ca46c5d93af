/**
 * posttrain CLI: `deno task cli <command> [--flag value]…`. Progress goes to stderr; the last
 * stdout line is one JSON object; bad input exits 1 with a one-line error.
 */
import { gradCommand } from "./grad.ts";
import { logitsCommand } from "./logits.ts";
import { trainCommand } from "./train.ts";
import { evalCommand } from "./eval.ts";
import { generateCommand } from "./generate.ts";
import { exportCommand } from "./export.ts";
import { coresetCommand } from "./coreset.ts";
import { applyUpdateCommand, unlearnCommand } from "./unlearn.ts";
import { planCommand } from "./plan.ts";

const COMMANDS: Record<string, (argv: string[]) => Promise<unknown>> = {
  grad: gradCommand,
  logits: logitsCommand,
  train: trainCommand,
  eval: evalCommand,
  generate: generateCommand,
  export: exportCommand,
  coreset: coresetCommand,
  unlearn: unlearnCommand,
  "apply-update": applyUpdateCommand,
  plan: planCommand,
};

/** Run one CLI invocation; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const run = cmd ? COMMANDS[cmd] : undefined;
  if (!run) {
    console.error(`usage: posttrain <${Object.keys(COMMANDS).join("|")}> [--flag value]…`);
    return 2;
  }
  try {
    console.log(JSON.stringify(await run(rest)));
    return 0;
  } catch (e) {
    console.error(`error: ${(e as Error).message.split("\n")[0]}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
