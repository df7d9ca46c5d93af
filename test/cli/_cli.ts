/** Run the CLI in-process, capturing its stdout JSON and stderr. */
import { main } from "../../src/cli/main.ts";
import { saveModelDir } from "../../src/io/hf_dir.ts";
import { toHfConfig } from "../../src/models/config.ts";
import type { DecoderConfig } from "../../src/models/config.ts";
import { initParams } from "../../src/models/params.ts";
import { paramSpecs } from "../../src/models/model.ts";

/** Capture the last stdout line (parsed) and stderr of one CLI run. */
export async function cli(
  args: string[],
): Promise<{ code: number; json: Record<string, unknown> | undefined; err: string }> {
  const out: string[] = [], err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (s: string) => out.push(s);
  console.error = (s: string) => err.push(s);
  try {
    const code = await main(args);
    return { code, json: out.length ? JSON.parse(out.at(-1)!) : undefined, err: err.join("\n") };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

/** Write a randomly initialised model dir (keys optionally prefixed, e.g. "transformer."). */
export async function writeModel(
  dir: string,
  cfg: DecoderConfig,
  prefix = "",
  seed = 4,
): Promise<Map<string, Float32Array>> {
  const specs = paramSpecs(cfg);
  const w = initParams(specs, seed);
  const tensors = Object.fromEntries(
    specs.map((s) => [prefix + s.name, { dtype: "F32" as const, shape: s.shape, data: w.get(s.name)! }]),
  );
  await saveModelDir(dir, toHfConfig(cfg), tensors);
  return w;
}
