/**
 * @module `GET /`: the dashboard (models, live jobs with curves, the new-job form with its memory plan,
 * artifacts, generation), and `GET /dashboard/:file`, its files. Every file is served from the module
 * itself (`routes/dashboard/assets.ts`, gzip + base64, built by `deno task build:dashboard` from
 * routes/dashboard/ and the npm packages uplot and swagger-ui-dist): no CDN, no file system and no
 * network at run time, so it works offline and on edge runtimes. Gzip bytes go out as they are to
 * clients that accept gzip, and are decompressed for the others; ETags let browsers revalidate.
 */
import { Hono } from "npm:hono@4.13.19";
import type { Context } from "npm:hono@4.13.19";
import { type Asset, ASSETS } from "./dashboard/assets.ts";

const bytes = new Map<string, Uint8Array<ArrayBuffer>>();

function gzipOf(name: string, a: Asset): Uint8Array<ArrayBuffer> {
  let b = bytes.get(name);
  if (!b) bytes.set(name, b = Uint8Array.from(atob(a.gzip), (c) => c.charCodeAt(0)));
  return b;
}

/**
 * The response for one built file (404 JSON when there is none).
 *
 * @example
 * ```ts ignore
 * app.get("/docs", (c) => serveAsset(c, "docs.html"));
 * ```
 */
export function serveAsset(c: Context, name: string): Response {
  const a = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
  if (!a) {
    return c.json(
      { error: { code: "not_found", message: `no dashboard file ${JSON.stringify(name)}` } },
      404,
    );
  }
  const etag = `"${a.etag}"`;
  const headers: Record<string, string> = {
    "content-type": a.type,
    etag,
    "cache-control": "no-cache",
    vary: "accept-encoding",
    "x-content-type-options": "nosniff",
  };
  if (c.req.header("if-none-match") === etag) return new Response(null, { status: 304, headers });
  const gz = gzipOf(name, a);
  if (/\bgzip\b/.test(c.req.header("accept-encoding") ?? "")) {
    return new Response(gz, { headers: { ...headers, "content-encoding": "gzip" } });
  }
  return new Response(new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip")), { headers });
}

/** The dashboard's routes (not in the OpenAPI document: they are pages, not API). */
export function dashboardRoutes(): Hono {
  return new Hono()
    .get("/", (c) => serveAsset(c, "index.html"))
    .get("/dashboard/:name", (c) => serveAsset(c, c.req.param("name")));
}
