/**
 * @module What a public server needs around every route: `X-Content-Type-Options: nosniff` on every
 * response and a Content-Security-Policy on HTML (scripts from this origin only, inline ones by hash),
 * 415 for a POST whose body is not declared JSON (an empty one included), and a per-client rate limit
 * on mutating requests (429 with Retry-After; a token bucket per remote address, so rotating tokens
 * buys nothing).
 */
import type { Context, MiddlewareHandler } from "npm:hono@4.13.19";
import { createHash } from "node:crypto";
import { ApiError, sendError } from "./_common.ts";

/** The policy of an HTML page; `inline` are the texts of its inline scripts (allowed by hash). */
export function contentSecurityPolicy(inline: readonly string[] = []): string {
  const hashes = inline.map((s) => `'sha256-${createHash("sha256").update(s).digest("base64")}'`);
  return [
    "default-src 'self'",
    `script-src 'self' 'wasm-unsafe-eval'${hashes.map((h) => " " + h).join("")}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join("; ");
}

/** The texts of a page's inline `<script>` elements. */
export function inlineScripts(html: string): string[] {
  return [...html.matchAll(/<script\b(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi)].map((m) => m[1]);
}

const DEFAULT_CSP = contentSecurityPolicy();

/**
 * nosniff on every response; the default CSP on HTML that set none of its own.
 *
 * @example
 * ```ts ignore
 * app.use("*", securityHeaders());
 * ```
 */
export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.res.headers.set("x-content-type-options", "nosniff");
    const type = c.res.headers.get("content-type") ?? "";
    if (type.startsWith("text/html") && !c.res.headers.has("content-security-policy")) {
      c.res.headers.set("content-security-policy", DEFAULT_CSP);
    }
  };
}

/**
 * 415 for a POST, PUT or PATCH whose Content-Type is not JSON (a body-less POST included: every such
 * route takes JSON).
 *
 * @example
 * ```ts ignore
 * app.use("*", requireJson());
 * ```
 */
export function requireJson(): MiddlewareHandler {
  return async (c, next) => {
    if (!["POST", "PUT", "PATCH"].includes(c.req.method)) return await next();
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type.trim())) {
      return sendError(
        c,
        new ApiError(
          415,
          "unsupported_media_type",
          `request body: must be application/json (Content-Type: ${type ? JSON.stringify(type) : "none"})`,
          "content-type",
        ),
      );
    }
    await next();
  };
}

/** A rate limit: `requests` per `perSeconds` for each client. */
export interface RateLimit {
  requests: number;
  perSeconds: number;
}

/**
 * Parse `POSTTRAIN_RATE_LIMIT` (`"60/60"`: 60 requests per 60 s; `"0"` or `"off"`: none).
 *
 * @example
 * ```ts
 * parseRateLimit("120/60"); // { requests: 120, perSeconds: 60 }
 * ```
 */
export function parseRateLimit(s: string): RateLimit | undefined {
  if (/^(0|off|none)$/i.test(s.trim())) return undefined;
  const m = s.trim().match(/^(\d+)\s*\/\s*(\d+(?:\.\d+)?)\s*s?$/);
  if (!m || Number(m[1]) < 1 || Number(m[2]) <= 0) {
    throw new Error(`POSTTRAIN_RATE_LIMIT: expected <requests>/<seconds> (e.g. 60/60) or off, got ${s}`);
  }
  return { requests: Number(m[1]), perSeconds: Number(m[2]) };
}

/** Who a request comes from: the remote address (`Deno.serve`'s info, passed as the app's env). */
function clientKey(c: Context): string {
  const env = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  return env?.remoteAddr?.hostname ?? "local";
}

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * A token bucket per client on mutating requests: `requests` at once, refilled over `perSeconds`;
 * past it, 429 with Retry-After (whole seconds until the next request is allowed).
 *
 * @example
 * ```ts ignore
 * app.use("*", rateLimit({ requests: 60, perSeconds: 60 }));
 * ```
 */
export function rateLimit(limit: RateLimit): MiddlewareHandler {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const rate = limit.requests / (limit.perSeconds * 1000); // tokens per ms
  return async (c, next) => {
    if (!MUTATING.has(c.req.method)) return await next();
    const key = clientKey(c), now = Date.now();
    const b = buckets.get(key) ?? { tokens: limit.requests, at: now };
    b.tokens = Math.min(limit.requests, b.tokens + (now - b.at) * rate);
    b.at = now;
    if (b.tokens < 1) {
      buckets.set(key, b);
      const wait = Math.max(1, Math.ceil((1 - b.tokens) / rate / 1000));
      c.header("Retry-After", String(wait));
      return sendError(
        c,
        new ApiError(
          429,
          "rate_limited",
          `too many requests: at most ${limit.requests} per ${limit.perSeconds} s (POSTTRAIN_RATE_LIMIT); retry in ${wait} s`,
        ),
      );
    }
    b.tokens -= 1;
    buckets.set(key, b);
    if (buckets.size > 10_000) {
      // forget full buckets (idle clients) so the map stays small
      for (const [k, v] of buckets) if (v.tokens + (now - v.at) * rate >= limit.requests) buckets.delete(k);
    }
    await next();
  };
}
