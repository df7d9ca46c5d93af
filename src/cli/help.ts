/**
 * @module `--help` text from the zod schemas the commands parse their flags with: each flag with its
 * value type (or choices), its description and its default, so the help can never disagree with
 * what the command accepts.
 */
import { z } from "npm:zod@4.6.7";

interface JsonProp {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonProp[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

/** The value a flag takes, as help shows it: `N`, `X`, `a|b|c`, or nothing for a switch. */
function valueOf(p: JsonProp): string {
  const choices = p.enum ?? p.anyOf?.flatMap((a) => a.enum ?? (a.const !== undefined ? [a.const] : []));
  if (choices?.length && (!p.anyOf || choices.length === p.anyOf.length)) return choices.join("|");
  const types = new Set([p.type, ...(p.anyOf ?? []).map((a) => a.type)].flat().filter(Boolean));
  if (types.has("boolean") && types.size === 1) return "";
  if (types.has("integer")) return "N";
  if (types.has("number")) return "X";
  return "S";
}

/**
 * The flags of a command schema as help lines: `--flag VALUE  description (default …)`.
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * flagHelp(z.object({ batchSize: z.number().int().default(8).describe("rows per step") }));
 * // ["  --batch-size N   rows per step (default 8)"]
 * ```
 */
export function flagHelp(schema: z.ZodObject, required: readonly string[] = []): string[] {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as {
    properties: Record<string, JsonProp>;
    required?: string[];
  };
  const must = new Set([...(json.required ?? []), ...required]);
  const rows = Object.entries(json.properties).map(([k, p]) => {
    const v = valueOf(p);
    const flag = `--${kebab(k)}${v ? ` ${v}` : ""}`;
    const facts = [
      p.default !== undefined ? `default ${JSON.stringify(p.default)}` : must.has(k) ? "required" : "",
    ].filter(Boolean);
    return [flag, `${p.description ?? ""}${facts.length ? ` (${facts.join(", ")})` : ""}`];
  });
  const w = Math.min(34, Math.max(...rows.map(([f]) => f.length)) + 2);
  return rows.map(([f, d]) => `  ${f.padEnd(w)} ${d}`.trimEnd());
}
