/**
 * @module Model references: `"default"` names the built-in model (`models/default` at the package
 * root), anything else is a directory in HF layout.
 */
import { PosttrainError } from "../errors.ts";

/**
 * The built-in model's directory (`models/default` at the package root), or undefined when the
 * module is not loaded from the file system.
 *
 * @example
 * ```ts
 * defaultModelDir(); // "/…/posttrain/models/default" in a local checkout
 * ```
 */
export function defaultModelDir(): string | undefined {
  const u = new URL("../../models/default", import.meta.url);
  return u.protocol === "file:" ? decodeURIComponent(u.pathname) : undefined;
}

/**
 * A model reference as a directory: `"default"` is the built-in model, anything else a path.
 *
 * @example
 * ```ts
 * resolveModelDir("./my-model"); // "./my-model"
 * ```
 */
export function resolveModelDir(model: string): string {
  if (model !== "default") return model;
  const dir = defaultModelDir();
  if (!dir) {
    throw new PosttrainError(
      "model_not_found",
      "model default: not available outside a local checkout",
      "model",
    );
  }
  return dir;
}
