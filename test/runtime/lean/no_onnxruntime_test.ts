/**
 * `--backend lean` loads no onnxruntime module: the CLI's train (LoRA on text rows), eval and generate
 * run in a process whose import map turns every onnxruntime package into a module that throws.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tinyModelDir } from "../../routes/_app.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const poison = "data:text/javascript,throw new Error('an onnxruntime module was loaded')";

Deno.test("lean: train, eval and generate load no onnxruntime module", async () => {
  const dir = await Deno.makeTempDir();
  const model = await tinyModelDir(join(dir, "m"));
  const data = join(dir, "rows.jsonl");
  await Deno.writeTextFile(
    data,
    '{"text":"hello the world"}\n{"prompt":"the hello","completion":" world"}\n',
  );
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const imports: Record<string, string> = { ...config.imports };
  for (
    const spec of [
      "npm:onnxruntime-web@1.30.0",
      "npm:onnxruntime-web@1.30.0/webgpu",
      "npm:onnxruntime-node@1.30.0",
    ]
  ) {
    imports[spec] = poison;
  }
  for (const k of Object.keys(imports)) if (k.startsWith("onnxruntime")) imports[k] = poison;
  const map = join(dir, "import_map.json");
  await Deno.writeTextFile(map, JSON.stringify({ imports }));
  const cli = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-config",
        "--import-map",
        map,
        join(ROOT, "src/cli/main.ts"),
        ...args,
        "--backend",
        "lean",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  for (
    const args of [
      [
        "train",
        "--model",
        model,
        "--data",
        data,
        "--method",
        "lora",
        "--steps",
        "2",
        "--out",
        join(dir, "a"),
      ],
      ["eval", "--model", model, "--data", data],
      ["generate", "--model", model, "--prompt", "the hello", "--max-new-tokens", "3"],
    ]
  ) {
    const out = await cli(args);
    const err = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, `${args[0]} failed: ${err.split("\n").slice(-5).join("\n")}`);
    assert.ok(!err.includes("onnxruntime module was loaded"));
  }
  // the poison works: an onnxruntime backend in the same setup fails
  const ort = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-config",
      "--import-map",
      map,
      join(ROOT, "src/cli/main.ts"),
      "eval",
      "--model",
      model,
      "--data",
      data,
      "--backend",
      "wasm",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(!ort.success && new TextDecoder().decode(ort.stderr).includes("onnxruntime module was loaded"));
});
