/**
 * Fuzzing every route in-process (issue 18.5) with fast-check: thousands of requests with malformed
 * JSON, wrong types, extreme numbers, deep nesting, long strings and path traversal in every path
 * parameter and model field. Every answer must be below 500; every 4xx a JSON
 * `{"error":{"code","message"}}`; no answer may show a file from outside the served dirs; the app must
 * answer /health afterwards. Jobs a fuzzed body gets accepted are canceled at once (nothing piles up).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import { post, ROWS, testApp } from "./_app.ts";

// POSTTRAIN_FUZZ_RUNS and POSTTRAIN_FUZZ_SEED run it longer or on other inputs
const RUNS = Number(Deno.env.get("POSTTRAIN_FUZZ_RUNS") ?? 5000);
const SEED = Number(Deno.env.get("POSTTRAIN_FUZZ_SEED") ?? 18);
const SECRET = "SECRET-4f9c2e1d-not-to-be-served";

/** Strings that try to leave a directory, or break a parser on the way. */
const TRAVERSAL = [
  "..",
  "../..",
  "../../../../etc/passwd",
  "..%2F..%2F..%2Fetc%2Fpasswd",
  "%2e%2e%2f%2e%2e%2fsecret.txt",
  "..\\..\\secret.txt",
  "/etc/passwd",
  "file:///etc/passwd",
  "tiny/../../secret.txt",
  "tiny/..",
  "~/.ssh/id_rsa",
  "C:\\Windows\\win.ini",
  "secret.txt",
  "../secret.txt",
  "models/../secret.txt",
  "job_\u0000",
  "%00",
  "\u202e\u0000\ud800",
  ".",
  "",
  " ",
  "request.json",
  "../request.json",
  "..%252F..%252Fsecret.txt",
];

const traversal = fc.constantFrom(...TRAVERSAL);
const longString = fc.integer({ min: 1_000, max: 200_000 }).map((n) => "x".repeat(n));
const weirdString = fc.oneof(
  traversal,
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  longString,
);
const extremeNumber = fc.constantFrom(
  0,
  -1,
  1,
  -0,
  0.5,
  1e-300,
  1e300,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  2 ** 53 + 1,
  2 ** 31,
  1e21,
);
const wrongType = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  extremeNumber,
  weirdString,
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 3 }),
);

/** `[[[…]]]` or `{"a":{"a":…}}` nested `depth` deep, as JSON text. */
const deep = fc.tuple(fc.integer({ min: 10, max: 3000 }), fc.boolean()).map(([d, arr]) =>
  arr ? "[".repeat(d) + "]".repeat(d) : '{"a":'.repeat(d) + "1" + "}".repeat(d)
);

const rows = fc.oneof(
  fc.constant(ROWS),
  fc.array(fc.record({ text: weirdString }), { maxLength: 3 }),
  fc.array(fc.record({ prompt: fc.string({ maxLength: 30 }), completion: fc.string({ maxLength: 30 }) }), {
    maxLength: 3,
  }),
  fc.array(
    fc.record({
      input_ids: fc.array(fc.oneof(extremeNumber, fc.integer({ min: -5, max: 300 })), { maxLength: 8 }),
    }),
    {
      maxLength: 3,
    },
  ),
  wrongType,
);

const model = fc.oneof(fc.constant("tiny"), traversal, weirdString, wrongType);
const backend = fc.oneof(fc.constantFrom("wasm", "node", "lean", "webgpu", "cuda"), wrongType);

/** A job body: mostly almost right, with one or more fields wrong. */
const jobBody = fc.record(
  {
    type: fc.oneof(
      fc.constantFrom("finetune", "eval", "unlearn", "coreset", "generate", "FINETUNE"),
      wrongType,
    ),
    model,
    adapter: fc.oneof(traversal, fc.constant("job_0000000000_00000000"), wrongType),
    method: fc.oneof(fc.constantFrom("full", "lora", "galore", "npo", "kfade", "cld", "random"), wrongType),
    data: rows,
    forget: rows,
    retain: rows,
    val: rows,
    steps: fc.oneof(fc.constant(1), extremeNumber, wrongType),
    lr: fc.oneof(extremeNumber, wrongType),
    batch_size: fc.oneof(fc.constant(1), extremeNumber, wrongType),
    k: fc.oneof(extremeNumber, wrongType),
    rank: fc.oneof(extremeNumber, wrongType),
    backend,
    truncate: fc.oneof(fc.boolean(), wrongType),
    targets: fc.oneof(fc.array(weirdString, { maxLength: 3 }), wrongType),
  },
  { requiredKeys: ["type", "model"] },
);

const generateBody = fc.record(
  {
    model,
    adapter: fc.oneof(traversal, wrongType),
    prompt: fc.oneof(fc.string({ maxLength: 40 }), longString, wrongType),
    messages: fc.oneof(
      fc.array(fc.record({ role: weirdString, content: weirdString }), { maxLength: 3 }),
      wrongType,
    ),
    max_new_tokens: fc.oneof(fc.integer({ min: 1, max: 4 }), extremeNumber, wrongType),
    temperature: fc.oneof(extremeNumber, wrongType),
    top_k: fc.oneof(extremeNumber, wrongType),
    top_p: fc.oneof(extremeNumber, wrongType),
    seed: fc.oneof(extremeNumber, wrongType),
    backend,
  },
  { requiredKeys: [] },
);

/** A valid body with one field replaced (often still valid: these reach the runner and the workers). */
const VALID_JOB = { type: "finetune", model: "tiny", data: ROWS, steps: 1, batch_size: 1 };
const VALID_GEN = { model: "tiny", prompt: "the hello", max_new_tokens: 2 };
const nearly = (base: Record<string, unknown>, keys: string[]) =>
  fc.tuple(
    fc.constantFrom(...keys),
    fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(1, 2, "lora", "full", "eval", "node", "lean"),
      wrongType,
      traversal,
    ),
  ).map(([k, v]) => JSON.stringify({ ...base, [k]: v }));

interface Req {
  path: string;
  init: RequestInit;
}

/** Percent-encoded (lone surrogates made well-formed first), as a client would send it. */
const enc = (s: string) => encodeURIComponent(s.toWellFormed());
const param = fc.tuple(fc.oneof(traversal, weirdString), fc.boolean()).map(([s, raw]) => (raw ? s : enc(s)));
const jsonText = fc.oneof(
  nearly(VALID_JOB, [
    "type",
    "model",
    "data",
    "steps",
    "batch_size",
    "method",
    "lr",
    "backend",
    "adapter",
    "rank",
    "seed",
  ]),
  nearly(VALID_GEN, [
    "model",
    "prompt",
    "max_new_tokens",
    "temperature",
    "top_k",
    "top_p",
    "seed",
    "adapter",
    "backend",
  ]),
  jobBody.map((b) => JSON.stringify(b)),
  generateBody.map((b) => JSON.stringify(b)),
  fc.json({ maxDepth: 4 }),
  deep,
  fc.string({ maxLength: 60 }), // malformed, mostly
  fc.constantFrom("", "{", "[", "nul", '{"type":', "\u0000", "{}", "[]", "null", "1e999", '"x"'),
);
const contentType = fc.constantFrom(
  "application/json",
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  undefined,
);

const request: fc.Arbitrary<Req> = fc.oneof(
  // reads, with fuzzed path parameters and queries
  fc.tuple(
    fc.constantFrom(
      "/v1/jobs/{p}",
      "/v1/jobs/{p}/events",
      "/v1/jobs/{p}/history",
      "/v1/jobs/{p}/artifacts",
      "/v1/jobs/job_x/artifacts/{p}",
      "/v1/jobs/{p}/artifacts/{p}",
      "/dashboard/{p}",
      "/playground/model/{p}",
      "/playground/{p}",
      "/{p}",
      "/v1/{p}",
    ),
    param,
  ).map(([route, p]) => ({ path: route.replaceAll("{p}", p), init: {} })),
  fc.tuple(
    fc.oneof(fc.constantFrom("running", "nope", ""), weirdString),
    fc.oneof(extremeNumber, weirdString),
  ).map((
    [s, l],
  ) => ({
    path: `/v1/jobs?status=${enc(s)}&limit=${enc(String(l))}`,
    init: {},
  })),
  fc.constantFrom("/health", "/v1/models", "/openapi.json", "/docs", "/", "/playground", "/v1/jobs").map((
    path,
  ) => ({
    path,
    init: {},
  })),
  // writes: bodies of every kind to every POST route, and DELETEs of fuzzed ids
  fc.tuple(fc.constantFrom("/v1/jobs", "/v1/generate", "/v1/plan"), jsonText, contentType).map((
    [path, body, type],
  ) => ({
    path,
    init: { method: "POST", body, headers: (type ? { "content-type": type } : {}) as Record<string, string> },
  })),
  // almost valid bodies to the route they are for: these reach the runner, the row checks and generation
  fc.oneof(
    nearly(VALID_JOB, [
      "type",
      "model",
      "data",
      "steps",
      "batch_size",
      "method",
      "lr",
      "backend",
      "adapter",
      "rank",
    ])
      .map((body) => ["/v1/jobs", body]),
    nearly(VALID_GEN, [
      "model",
      "prompt",
      "max_new_tokens",
      "temperature",
      "top_k",
      "top_p",
      "seed",
      "backend",
    ])
      .map((body) => ["/v1/generate", body]),
  ).map(([path, body]) => ({
    path,
    init: { method: "POST", body, headers: { "content-type": "application/json" } },
  })),
  param.map((p) => ({ path: `/v1/jobs/${p}`, init: { method: "DELETE" } })),
  fc.constantFrom("PUT", "PATCH", "DELETE", "OPTIONS").map((method) => ({
    path: "/v1/jobs",
    init: {
      method,
      body: method === "OPTIONS" ? undefined : "{}",
      headers: { "content-type": "application/json" },
    },
  })),
);

Deno.test({
  name:
    "fuzz: thousands of malformed, extreme, deeply nested and traversing requests over every route: no 5xx, every 4xx a JSON error, healthy after",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const t = await testApp({ defaultBackend: "lean" });
    await Deno.writeTextFile(join(t.dir, "secret.txt"), SECRET);
    await Deno.writeTextFile(join(t.dir, "models", "secret.txt"), SECRET);
    const statuses = new Map<number, number>();
    let sent = 0, accepted = 0;
    const t0 = performance.now();
    try {
      // one real job, so the job routes also see an existing id
      const real =
        await (await post(t.app, "/v1/jobs", { type: "finetune", model: "tiny", data: ROWS, steps: 1 }))
          .json();
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          let res: Response;
          try {
            res = await t.app.request(r.path.replaceAll("job_x", real.id), r.init);
          } catch (e) {
            // a path no client could send (the URL parser refuses it) is not the server's to answer
            if (e instanceof TypeError && /URL|Invalid/.test(e.message)) return;
            throw e;
          }
          sent++;
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const type = res.headers.get("content-type") ?? "";
          const text = type.startsWith("text/event-stream") ? "" : await res.text();
          if (type.startsWith("text/event-stream")) await res.body?.cancel();
          assert.ok(
            res.status < 500,
            `${r.init.method ?? "GET"} ${r.path.slice(0, 200)} → ${res.status} ${text.slice(0, 300)}`,
          );
          assert.equal(res.headers.get("x-content-type-options"), "nosniff");
          assert.ok(!text.includes(SECRET), `${r.path.slice(0, 200)} served a file from outside`);
          if (res.status >= 400) {
            assert.match(type, /application\/json/, `${r.path.slice(0, 200)} → ${res.status} ${type}`);
            const body = JSON.parse(text);
            assert.equal(typeof body.error?.code, "string", text.slice(0, 300));
            assert.equal(typeof body.error?.message, "string", text.slice(0, 300));
          }
          if (res.status === 202 && r.path === "/v1/jobs") {
            // accepted: cancel it now, so fuzzing never piles up work
            accepted++;
            const id = JSON.parse(text).id;
            const c = await t.app.request(`/v1/jobs/${id}`, { method: "DELETE" });
            // 409: it ended on its own first (steps: 1)
            assert.ok(c.status === 200 || c.status === 409, `${c.status} ${await c.text()}`);
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
      const health = await t.app.request("/health");
      assert.deepEqual(await health.json(), { status: "ok" });
      // the runner still works: the real job ends
      for (let i = 0; i < 600; i++) {
        const j = await (await t.app.request(`/v1/jobs/${real.id}`)).json();
        if (j.status === "succeeded") break;
        assert.ok(!["failed", "canceled"].includes(j.status), JSON.stringify(j));
        await new Promise((r) => setTimeout(r, 20));
      }
      const s = Math.round((performance.now() - t0) / 100) / 10;
      const by = [...statuses].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}×${v}`).join(" ");
      console.log(
        `fuzz (seed ${SEED}): ${sent} requests in ${s} s, 0 × 5xx (${by}); ${accepted} accepted job(s) canceled`,
      );
      assert.ok(sent >= RUNS * 0.95, `${sent} requests sent`);
    } finally {
      await t.close();
    }
  },
});
