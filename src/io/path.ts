/**
 * @module POSIX path helpers (join, resolve, dirname, basename) for the library, instead of `node:path`:
 * importing that loads Deno's Node.js compatibility layer (+7 MB of resident memory), which an edge
 * isolate's budget cannot spare. Paths use `/`; Windows drive paths are not handled.
 */
import { host } from "../util/host.ts";

/** The path separator. */
export const sep = "/";

/** Collapse `.`, `..` and repeated separators. */
function normalize(p: string): string {
  const abs = p.startsWith("/");
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length && out[out.length - 1] !== "..") out.pop();
      else if (!abs) out.push("..");
    } else out.push(part);
  }
  const s = out.join("/");
  return abs ? "/" + s : s || ".";
}

/**
 * Join path segments and normalize.
 *
 * @example
 * ```ts
 * join("models", "default", "../x"); // "models/x"
 * ```
 */
export function join(...parts: string[]): string {
  return normalize(parts.filter((p) => p !== "").join("/"));
}

/**
 * An absolute, normalized path (relative to the working directory).
 *
 * @example
 * ```ts ignore
 * resolve("models/default"); // "/work/main/models/default"
 * ```
 */
export function resolve(...parts: string[]): string {
  let p = "";
  for (let i = parts.length - 1; i >= 0 && !p.startsWith("/"); i--) p = parts[i] + (p ? "/" + p : "");
  if (!p.startsWith("/")) p = host().cwd() + "/" + p;
  return normalize(p);
}

/**
 * The directory part of a path.
 *
 * @example
 * ```ts
 * dirname("/a/b/c.json"); // "/a/b"
 * ```
 */
export function dirname(p: string): string {
  const s = p.length > 1 ? p.replace(/\/+$/, "") : p;
  const i = s.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : s.slice(0, i);
}

/**
 * The last part of a path.
 *
 * @example
 * ```ts
 * basename("/a/b/c.json"); // "c.json"
 * ```
 */
export function basename(p: string): string {
  const s = p.replace(/\/+$/, "");
  return s.slice(s.lastIndexOf("/") + 1);
}
