/**
 * @module Shared route plumbing: the error body schema, the HTTP status of each error code the
 * library throws (`PosttrainError`, no status of its own), sub-apps whose validation failures
 * become `422 {"error":{"code":"invalid_request","message","path"}}` naming the field, the
 * bearer-token guard (mutating methods, and job reads unless reads are public), and the error /
 * not-found handlers.
 */
import { OpenAPIHono, z } from "npm:@hono/zod-openapi@1.6.3";
import type { Context, MiddlewareHandler } from "npm:hono@4.13.19";
import type { ContentfulStatusCode } from "npm:hono@4.13.19/utils/http-status";
import { HTTPException } from "npm:hono@4.13.19/http-exception";
import { PosttrainError } from "../src/errors.ts";
import { describeIssue } from "../src/jobs/spec.ts";

/** HTTP statuses of the error codes that are not a 422 (a well-formed request with a bad field). */
const STATUS: Record<string, ContentfulStatusCode> = {
  invalid_json: 400,
  unauthorized: 401,
  not_found: 404,
  job_not_found: 404,
  model_not_found: 404,
  artifact_not_found: 404,
  job_finished: 409,
  job_not_finished: 409,
  job_in_use: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
};

/**
 * The HTTP status of an error: its own for an {@link ApiError}, else by its code (422 unless listed).
 *
 * @example
 * ```ts
 * httpStatus(new PosttrainError("model_not_found", "model x: not registered", "model")); // 404
 * ```
 */
export function httpStatus(e: PosttrainError): ContentfulStatusCode {
  return e instanceof ApiError ? e.status : STATUS[e.code] ?? 422;
}

/** An error the routes raise themselves, with its HTTP status. */
export class ApiError extends PosttrainError {
  /**
   * @example
   * ```ts
   * throw new ApiError(404, "artifact_not_found", "job j has no artifact x", "name");
   * ```
   */
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503,
    code: string,
    message: string,
    path?: string,
  ) {
    super(code, message, path);
    this.name = "ApiError";
  }
}

/** `{"error":{"code","message","path"?}}`. */
export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().describe("stable machine-readable code, e.g. invalid_request, model_not_found"),
    message: z.string().describe("what is wrong, naming the field"),
    path: z.string().optional().describe("the offending field, dotted (data.3.completion)"),
  }),
}).openapi("Error");

/** An OpenAPI response entry with the error body. */
export function errorResponse(description: string): {
  description: string;
  content: { "application/json": { schema: typeof ErrorSchema } };
} {
  return { description, content: { "application/json": { schema: ErrorSchema } } };
}

/** Error responses every mutating JSON route can give. */
export const BODY_ERRORS = {
  400: errorResponse("malformed JSON"),
  401: errorResponse("missing or wrong bearer token (when POSTTRAIN_TOKEN is set)"),
  415: errorResponse("the body is not declared application/json (an empty POST included)"),
  429: errorResponse("too many requests from this client (POSTTRAIN_RATE_LIMIT); see Retry-After"),
  413: errorResponse("body larger than the limit (POSTTRAIN_MAX_BODY)"),
  422: errorResponse(
    "a field is missing, of the wrong type or out of range, or names an unknown type, method or option value",
  ),
} as const;

/** A JSON error response from a {@link PosttrainError}, with its {@link httpStatus}. */
export function sendError(c: Context, e: PosttrainError): Response {
  return c.json(e.toJSON(), httpStatus(e));
}

/** A sub-app whose request validation failures answer 422 naming the field. */
export function newApp(): OpenAPIHono {
  return new OpenAPIHono({
    defaultHook: async (result, c) => {
      if (result.success) return;
      let body: unknown;
      if (result.target === "json") body = await c.req.json().catch(() => undefined);
      const d = describeIssue(result.error.issues[0], body);
      return c.json(
        { error: { code: "invalid_request", message: d.message, path: d.path || undefined } },
        422,
      );
    },
  });
}

/** Job ids as the store makes them (checked before any lookup). */
export const JOB_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** The 404 of a job id that does not exist. */
export function jobNotFound(id: string): PosttrainError {
  return new PosttrainError("job_not_found", `no job ${JSON.stringify(id.slice(0, 80))}`, "id");
}

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

async function sameSecret(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [x, y] = await Promise.all([
    crypto.subtle.digest("SHA-256", enc.encode(a)),
    crypto.subtle.digest("SHA-256", enc.encode(b)),
  ]);
  const u = new Uint8Array(x), v = new Uint8Array(y);
  let d = 0;
  for (let i = 0; i < u.length; i++) d |= u[i] ^ v[i];
  return d === 0;
}

/** The API's reads (models, job list, record, events, history, artifacts): private when a token is set. */
const API_READ = /\/v1(?:\/|$)/;

/**
 * 401 unless `Authorization: Bearer <token>` matches, on mutating methods and, unless `publicReads`,
 * on every `/v1` read (no-op without a token). The dashboard, /docs, /openapi.json and /health stay open.
 *
 * @example
 * ```ts ignore
 * app.use("*", bearerGuard("s3cret", { publicReads: false }));
 * ```
 */
export function bearerGuard(
  token: string | undefined,
  opts: { publicReads?: boolean } = {},
): MiddlewareHandler {
  return async (c, next) => {
    const guarded = MUTATING.has(c.req.method) || (!opts.publicReads && API_READ.test(c.req.path));
    if (!token || !guarded) return await next();
    const m = (c.req.header("authorization") ?? "").match(/^Bearer\s+(.+)$/i);
    if (!m || !(await sameSecret(m[1].trim(), token))) {
      c.header("WWW-Authenticate", 'Bearer realm="posttrain"');
      const what = m ? "wrong bearer token" : "missing bearer token";
      return c.json({
        error: { code: "unauthorized", message: `${what} (Authorization: Bearer …)`, path: "authorization" },
      }, 401);
    }
    await next();
  };
}

/** Turn thrown errors into the JSON error body. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof PosttrainError) return sendError(c, err);
  if (err instanceof HTTPException) {
    const s = err.status;
    if (s === 400) return sendError(c, new ApiError(400, "invalid_json", "request body: malformed JSON"));
    if (s === 413) return sendError(c, new ApiError(413, "payload_too_large", "request body: too large"));
    if (s === 415) {
      return sendError(
        c,
        new ApiError(415, "unsupported_media_type", "request body: must be application/json"),
      );
    }
    return c.json({ error: { code: `http_${s}`, message: err.message || "error" } }, s);
  }
  console.error(err);
  return c.json({ error: { code: "internal", message: err.message.split("\n")[0] } }, 500);
}

/** JSON 404 for unknown routes. */
export function notFound(c: Context): Response {
  return c.json({
    error: { code: "not_found", message: `no route ${c.req.method} ${new URL(c.req.url).pathname}` },
  }, 404);
}
