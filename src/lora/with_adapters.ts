/**
 * @module Loading a model with LoRA adapters (PEFT dirs) merged into its weights: the `--adapter`
 * of every command, the `adapter` of the library's operations.
 */
import { type LoadedModel, loadModel } from "../models/load.ts";
import { resolveModelDir } from "../models/reference.ts";
import { loadAdapter } from "./peft.ts";
import { mergeAdapters } from "./merge.ts";
import { splitList } from "../util/list.ts";

/**
 * Adapter dirs from a comma-separated string or a list.
 *
 * @example
 * ```ts
 * adapterList("a, b"); // ["a", "b"]
 * ```
 */
export function adapterList(adapters?: string | readonly string[]): string[] {
  return splitList(adapters);
}

/**
 * Load a model ("default" or a dir) and merge LoRA adapters (PEFT dirs) into its weights.
 *
 * @example
 * ```ts ignore
 * const m = await loadModelWithAdapters("default", ["./adapter"]);
 * ```
 */
export async function loadModelWithAdapters(
  model: string,
  adapters?: string | readonly string[],
): Promise<LoadedModel> {
  const m = await loadModel(resolveModelDir(model));
  const dirs = adapterList(adapters);
  if (dirs.length) mergeAdapters(m.config, m.weights, await Promise.all(dirs.map(loadAdapter)));
  return m;
}
