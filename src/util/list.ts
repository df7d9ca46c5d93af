/** @module Lists given as an array or as one comma-separated string (a CLI flag). */

/**
 * The non-empty, trimmed items of a list or a comma-separated string.
 *
 * @example
 * ```ts
 * splitList("q_proj, v_proj"); // ["q_proj", "v_proj"]
 * splitList(undefined); // []
 * ```
 */
export function splitList(list?: string | readonly string[]): string[] {
  const items = typeof list === "string" ? list.split(",") : [...(list ?? [])];
  return items.map((a) => a.trim()).filter(Boolean);
}
