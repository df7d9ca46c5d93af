/** @module `GET /health` → `{"status":"ok"}`. */
import { createRoute, OpenAPIHono, z } from "npm:@hono/zod-openapi@1.6.3";

const Health = z.object({ status: z.literal("ok").describe("always ok while the server runs") }).openapi(
  "Health",
);

/** Health routes. */
export const health: OpenAPIHono = new OpenAPIHono().openapi(
  createRoute({
    method: "get",
    path: "/health",
    operationId: "getHealth",
    tags: ["health"],
    summary: "Whether the server is up",
    responses: {
      200: { description: "the server is up", content: { "application/json": { schema: Health } } },
    },
  }),
  (c) => c.json({ status: "ok" as const }, 200),
);
