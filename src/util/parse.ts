/** @module Options checked against their zod schema, with bad ones reported as a `PosttrainError`. */
import type { z } from "npm:zod@4.6.7";
import { dotted, PosttrainError } from "../errors.ts";

/**
 * `value` parsed by `schema` (defaults applied); an invalid option throws a
 * {@link PosttrainError} `invalid_option` whose message and path name it.
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * parseOptions(z.object({ steps: z.number().default(100) }), {}); // { steps: 100 }
 * ```
 */
export function parseOptions<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = dotted(issue.path) || "options";
  throw new PosttrainError("invalid_option", `${path}: ${issue.message}`, path);
}

/**
 * The entries of `o` whose keys the schema shape has.
 *
 * @example
 * ```ts
 * pickShape({ steps: 3, out: "x" }, { steps: 0 }); // { steps: 3 }
 * ```
 */
export function pickShape(o: object, shape: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => k in shape));
}
