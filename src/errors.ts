/**
 * @module The error the library throws on bad input: a stable code, a message, and the offending
 * field's path (dotted; snake_case where the field came from an HTTP body). It carries no HTTP
 * status: routes/ maps codes to statuses and turns the error into `{"error":{"code","message","path"?}}`.
 */

/** Bad input: a stable code and the field it is about. */
export class PosttrainError extends Error {
  /**
   * @example
   * ```ts
   * throw new PosttrainError("model_not_found", 'model "x" is not registered', "model");
   * ```
   */
  constructor(
    readonly code: string,
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = "PosttrainError";
  }

  /** The JSON body of the error. */
  toJSON(): { error: { code: string; message: string; path?: string } } {
    return { error: { code: this.code, message: this.message, ...(this.path ? { path: this.path } : {}) } };
  }
}

/** A dotted path from zod's issue path (`["data", 2, "prompt"]` → `"data.2.prompt"`). */
export function dotted(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join(".");
}

/**
 * Map an error from the data layer ("row 3: …") onto the request field that holds the rows:
 * `row N` (1-based) becomes `field.N-1`.
 *
 * @example
 * ```ts
 * rowError(new Error("row 2: 300 tokens is longer than the model's context"), "data");
 * // PosttrainError invalid_row, path "data.1"
 * ```
 */
export function rowError(e: unknown, field: string): PosttrainError {
  const msg = (e as Error).message ?? String(e);
  const m = msg.match(/^row (\d+)\b/);
  const path = m ? `${field}.${Number(m[1]) - 1}` : field;
  const text = m ? `${path}${msg.slice(m[0].length)}` : `${field}: ${msg}`;
  return new PosttrainError("invalid_row", text, path);
}
