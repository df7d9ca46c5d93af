/**
 * @module The Hono app: one file per resource, composed here, with the OpenAPI 3.1 document
 * generated from the same zod schemas. Job, artifact and generation routes come with the
 * service issue; this is the part the engine already supports.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { health } from "./health.ts";
import { modelsRoutes } from "./models.ts";

/** Options of {@link createApp}. */
export interface AppOptions {
  /** Model name → directory. */
  models?: ReadonlyMap<string, string>;
}

/**
 * Build the HTTP app.
 *
 * @example
 * ```ts
 * const app = createApp();
 * const res = await app.request("/health"); // {"status":"ok"}
 * ```
 */
export function createApp(opts: AppOptions = {}): OpenAPIHono {
  const app = new OpenAPIHono();
  app.route("/", health);
  app.route("/", modelsRoutes(opts.models ?? new Map()));
  app.doc31("/openapi.json", { openapi: "3.1.0", info: { title: "posttrain", version: "0.1.0" } });
  return app;
}
