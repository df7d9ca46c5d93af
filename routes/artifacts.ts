/**
 * @module Artifacts: `GET /v1/jobs/:id/artifacts` lists a succeeded job's files (name, size,
 * sha256) and `GET /v1/jobs/:id/artifacts/:name` streams one (with `ETag` = its sha256).
 */
import { createRoute, type OpenAPIHono, z } from "npm:@hono/zod-openapi@1.6.3";
import type { JobRunner } from "../src/jobs/runner.ts";
import { ArtifactSchema } from "./jobs.ts";
import { ApiError, errorResponse, JOB_ID_RE, jobNotFound, newApp } from "./_common.ts";

const Params = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" } }),
});
const NameParams = Params.extend({
  name: z.string().openapi({ param: { name: "name", in: "path" }, example: "model.safetensors" }),
});

/** Artifact routes over a runner. */
export function artifactsRoutes(runner: JobRunner): OpenAPIHono {
  const app = newApp();
  const job = async (id: string) => {
    const j = JOB_ID_RE.test(id) ? await runner.store.get(id) : undefined;
    if (!j) throw jobNotFound(id);
    return j;
  };

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs/{id}/artifacts",
      operationId: "listArtifacts",
      tags: ["artifacts"],
      summary: "List a job's artifacts (empty until it succeeds)",
      request: { params: Params },
      responses: {
        200: {
          description: "artifacts",
          content: { "application/json": { schema: z.object({ data: z.array(ArtifactSchema) }) } },
        },
        401: errorResponse("missing or wrong bearer token (POSTTRAIN_TOKEN set, reads not public)"),
        404: errorResponse("no such job"),
      },
    }),
    async (c) => c.json({ data: (await job(c.req.valid("param").id)).artifacts ?? [] }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs/{id}/artifacts/{name}",
      operationId: "downloadArtifact",
      tags: ["artifacts"],
      summary: "Download one artifact",
      request: { params: NameParams },
      responses: {
        200: {
          description: "the file",
          content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
        },
        401: errorResponse("missing or wrong bearer token (POSTTRAIN_TOKEN set, reads not public)"),
        404: errorResponse("no such job or artifact"),
      },
    }),
    async (c) => {
      const { id, name } = c.req.valid("param");
      const info = (await job(id)).artifacts?.find((a) => a.name === name);
      const f = info ? await runner.files.open(id, name) : undefined;
      if (!info || !f) {
        throw new ApiError(
          404,
          "artifact_not_found",
          `job ${id} has no artifact ${JSON.stringify(name)}`,
          "name",
        );
      }
      return new Response(f.body, {
        headers: {
          "content-type": name.endsWith(".json") ? "application/json" : "application/octet-stream",
          "content-length": String(f.size),
          "content-disposition": `attachment; filename="${name}"`,
          etag: `"${info.sha256}"`,
        },
      });
    },
  );
  return app;
}
