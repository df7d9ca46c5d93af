/**
 * @module A typed client of the HTTP API: openapi-fetch over the types openapi-typescript generates
 * from the OpenAPI document (`routes/client/schema.ts`, kept up to date by `deno task openapi
 * --check`), so paths, request bodies and answers are checked by the compiler.
 */
import createClient, { type Client } from "npm:openapi-fetch@0.17.0";
import type { paths } from "./schema.ts";

export type { paths };

/** Options of {@link posttrainClient}. */
export interface ClientOptions {
  /** Bearer token (the server's POSTTRAIN_TOKEN). */
  token?: string;
  /** A fetch to use instead of the global one (e.g. an in-process app's `app.fetch`). */
  fetch?: (req: Request) => Promise<Response>;
}

/**
 * A client of a posttrain server.
 *
 * @example
 * ```ts ignore
 * const api = posttrainClient("http://localhost:8000", { token: Deno.env.get("POSTTRAIN_TOKEN") });
 * const { data } = await api.POST("/v1/jobs", {
 *   body: { type: "finetune", model: "default", method: "lora", data: [{ text: "hello" }] },
 * });
 * ```
 */
export function posttrainClient(baseUrl: string, opts: ClientOptions = {}): Client<paths> {
  return createClient<paths>({
    baseUrl,
    headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
}
