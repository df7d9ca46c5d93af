/** The golden fixtures of test/models/fixtures (written by make_fixtures.py from a PyTorch transcription of HF's modeling code). */
import { join } from "node:path";
import { readSafetensors, toFloat32 } from "../../src/io/safetensors.ts";
import type { Example } from "../../src/data/tokenize.ts";

export const FIXTURES = join(import.meta.dirname!, "fixtures");

/** Every fixture: one per family (plus variants). */
export const FAMILY_FIXTURES = [
  "llama3",
  "llama_linear",
  "qwen2",
  "qwen3",
  "mistral",
  "smollm3",
  "gemma3_text",
  "phi3",
  "phi3_longrope",
] as const;

/** The token rows of each case, as examples with next-token labels (last position ignored). */
export async function fixtureCases(name: string): Promise<Example[][]> {
  const cases = JSON.parse(await Deno.readTextFile(join(FIXTURES, name, "cases.json"))) as number[][][];
  return cases.map((rows) =>
    rows.map((r, row) => ({
      inputIds: Int32Array.from(r),
      labels: Int32Array.from(r, (_, t) => (t + 1 < r.length ? r[t + 1] : -100)),
      row,
    }))
  );
}

/** Expected tensors: `case<i>.logits`, `case<i>.loss`, `case<i>.grad.<param>`. */
export async function fixtureExpected(
  name: string,
): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const { tensors } = await readSafetensors(join(FIXTURES, name, "expected.safetensors"));
  return new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: toFloat32(t) }]));
}
