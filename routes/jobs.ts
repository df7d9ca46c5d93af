/**
 * @module Jobs: `POST /v1/jobs` (202), `GET /v1/jobs` (with the disk the jobs use), `GET /v1/jobs/:id`,
 * `DELETE /v1/jobs/:id` (cancels a queued or running job; removes a finished one, record and files) and
 * `GET /v1/jobs/:id/events` (server-sent events: one `progress` event per change, then one named after
 * the terminal status, then the stream ends).
 */
import { createRoute, type OpenAPIHono, z } from "npm:@hono/zod-openapi@1.6.3";
import { streamSSE } from "npm:hono@4.13.19/streaming";
import { JOB_TYPES, JobRequestSchema } from "../src/jobs/spec.ts";
import { type JobRecord, type JobStatus, TERMINAL } from "../src/jobs/store.ts";
import type { JobRunner } from "../src/jobs/runner.ts";
import { ApiError, BODY_ERRORS, errorResponse, JOB_ID_RE, jobNotFound, newApp } from "./_common.ts";

const STATUSES = ["queued", "running", "succeeded", "failed", "canceled"] as const;

/** An artifact entry. */
export const ArtifactSchema = z.object({
  name: z.string().describe("file name, for GET /v1/jobs/:id/artifacts/:name"),
  size: z.number().int().describe("bytes"),
  sha256: z.string().describe("hex SHA-256 of the file"),
}).openapi("Artifact");

/** A job as the API shows it. */
export const JobSchema = z.object({
  id: z.string(),
  type: z.enum(JOB_TYPES),
  status: z.enum(STATUSES),
  model: z.string(),
  method: z.string().optional(),
  created_at: z.string(),
  updated_at: z.string(),
  started_at: z.string().optional(),
  finished_at: z.string().optional(),
  progress: z.object({
    step: z.number().int().describe(
      "optimizer steps done (eval: batches; unlearn: unlearning steps; coreset: CLD loss checkpoints)",
    ),
    steps: z.number().int().describe("steps in all"),
    loss: z.number().optional(),
    lr: z.number().optional(),
    grad_norm: z.number().optional(),
    tokens_per_s: z.number().optional(),
    eta_s: z.number().optional(),
    forget_loss: z.number().optional().describe(
      "unlearn: mean forget NLL (first-order methods: of the step's batch; kfade: of all forget rows)",
    ),
    checkpoint_step: z.number().int().optional().describe("a restart resumes from this step"),
  }),
  result: z.record(z.string(), z.number()).describe(
    "figures once succeeded (the CLI's stdout JSON), else {}",
  ),
  error: z.object({ code: z.string(), message: z.string(), step: z.number().int().optional() }).optional(),
  artifacts: z.array(ArtifactSchema).optional(),
  cancel_requested: z.boolean().optional(),
  resumes: z.number().int().optional().describe(
    "times the job was resumed after a restart or taken over by another instance",
  ),
}).openapi("Job");

/** The public view of a record (runner bookkeeping dropped). */
export function jobView(j: JobRecord): z.infer<typeof JobSchema> {
  const { state: _s, version: _v, history: _h, lease: _l, uses: _u, ...rest } = j;
  return { ...rest, result: j.result ?? {} };
}

const IdParam = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, example: "job_mhx3k2a0_9f2c41d7" }),
});
const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

async function getJob(runner: JobRunner, id: string): Promise<JobRecord> {
  const j = JOB_ID_RE.test(id) ? await runner.store.get(id) : undefined;
  if (!j) throw jobNotFound(id);
  return j;
}

/** Job routes over a runner. */
export function jobsRoutes(runner: JobRunner): OpenAPIHono {
  const app = newApp();
  // walking every job's files on each list is not cheap: one walk at a time, reused for 5 s
  let usage: { at: number; bytes: Promise<number> } | undefined;
  const diskBytes = () => {
    if (!usage || Date.now() - usage.at > 5_000) {
      usage = { at: Date.now(), bytes: runner.files.diskUsage().then((u) => u.bytes, () => 0) };
    }
    return usage.bytes;
  };
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/jobs",
      operationId: "createJob",
      tags: ["jobs"],
      summary: "Submit a job",
      security: [{ Bearer: [] }],
      request: { body: { required: true, content: { "application/json": { schema: JobRequestSchema } } } },
      responses: {
        202: json(JobSchema, "accepted: the job is queued"),
        ...BODY_ERRORS,
        404: errorResponse("unknown model or adapter job"),
      },
    }),
    async (c) => {
      const job = await runner.submit(c.req.valid("json"));
      c.header("Location", `/v1/jobs/${job.id}`);
      return c.json(jobView(job), 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs",
      operationId: "listJobs",
      tags: ["jobs"],
      summary: "List jobs, newest first",
      request: {
        query: z.object({
          status: z.enum(STATUSES).optional().describe("only jobs with this status"),
          limit: z.coerce.number().int().positive().max(1000).default(100).describe("most jobs returned"),
        }),
      },
      responses: {
        200: json(
          z.object({
            data: z.array(JobSchema),
            disk_bytes: z.number().int().describe(
              "bytes the jobs' files use on this server (requests, checkpoints, artifacts; POSTTRAIN_RETENTION removes old ones)",
            ),
          }),
          "jobs",
        ),
        401: BODY_ERRORS[401],
        422: errorResponse("bad query"),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const jobs = await runner.store.list({
        status: q.status ? [q.status as JobStatus] : undefined,
        limit: q.limit,
      });
      return c.json({ data: jobs.map(jobView), disk_bytes: await diskBytes() }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs/{id}",
      operationId: "getJob",
      tags: ["jobs"],
      summary: "A job's status, progress and result",
      request: { params: IdParam },
      responses: {
        200: json(JobSchema, "the job"),
        401: BODY_ERRORS[401],
        404: errorResponse("no such job"),
      },
    }),
    async (c) => c.json(jobView(await getJob(runner, c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/jobs/{id}",
      operationId: "cancelJob",
      tags: ["jobs"],
      summary: "Cancel a queued or running job (it stops at its next step); remove a finished one",
      description: "On a queued or running job: cancels it and answers it canceled. On a job that has " +
        "ended (succeeded, failed, canceled): removes its record and every file of it (request, " +
        "checkpoints, artifacts) and answers the record as it was; the job is then gone (404). A job whose " +
        "output a queued or running job reads (its `adapter`) is kept until that one ends (409 job_in_use).",
      security: [{ Bearer: [] }],
      request: { params: IdParam },
      responses: {
        200: json(JobSchema, "the job, canceled (or, when it had ended, as it was before its removal)"),
        401: BODY_ERRORS[401],
        404: errorResponse("no such job"),
        409: errorResponse(
          "the job succeeded or failed while it was being canceled, or a job not yet ended reads its output " +
            "(as its adapter: job_in_use)",
        ),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const before = await getJob(runner, id);
      if (TERMINAL.includes(before.status)) return c.json(jobView((await runner.remove(id)) ?? before), 200);
      const j = (await runner.cancel(id))!;
      if (j.status === "succeeded" || j.status === "failed") {
        throw new ApiError(409, "job_finished", `job ${id} already ${j.status}`, "id");
      }
      return c.json(jobView(j), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs/{id}/events",
      operationId: "streamJobEvents",
      tags: ["jobs"],
      summary: "Progress as server-sent events, ending after the terminal one",
      description: "Each event's data is the job (as GET /v1/jobs/:id). Event names: `progress` while " +
        "queued or running, then `succeeded`, `failed` or `canceled`, after which the stream closes.",
      request: { params: IdParam },
      responses: {
        200: { description: "event stream", content: { "text/event-stream": { schema: z.string() } } },
        401: BODY_ERRORS[401],
        404: errorResponse("no such job"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await getJob(runner, id);
      return streamSSE(c, async (s) => {
        const ac = new AbortController();
        s.onAbort(() => ac.abort());
        const ping = setInterval(() => s.write(": ping\n\n").catch(() => ac.abort()), 15_000);
        let n = 0;
        try {
          for await (const j of runner.store.watch(id, ac.signal)) {
            const done = TERMINAL.includes(j.status);
            await s.writeSSE({
              event: done ? j.status : "progress",
              data: JSON.stringify(jobView(j)),
              id: String(n++),
            });
            if (done) break;
          }
        } finally {
          clearInterval(ping);
          ac.abort();
        }
      });
    },
  );
  return app;
}
