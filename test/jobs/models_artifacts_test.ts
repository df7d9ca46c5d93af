/** Model references (no path traversal), job files (atomic writes, safe names), request schema helpers. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ModelRegistry } from "../../src/jobs/models.ts";
import { ArtifactStore, sha256File, writeFileAtomic } from "../../src/jobs/artifacts.ts";
import { PosttrainError } from "../../src/errors.ts";
import { httpStatus } from "../../routes/_common.ts";
import { camel, camelKeys, FinetuneJobSchema, snake } from "../../src/jobs/spec.ts";
import { TrainOptionsSchema } from "../../src/train/options.ts";
import { tinyModelDir } from "../routes/_app.ts";

async function rejects(p: Promise<unknown>, status: number, code: string) {
  await assert.rejects(
    p,
    (e) => e instanceof PosttrainError && httpStatus(e) === status && e.code === code && e.path === "model",
  );
}

Deno.test("ModelRegistry: registered names and dirs under the root only", async () => {
  const dir = await Deno.makeTempDir();
  const root = join(dir, "root");
  const inside = await tinyModelDir(join(root, "a", "b"));
  const outside = await tinyModelDir(join(dir, "outside"));
  await Deno.symlink(outside, join(root, "link"));
  await Deno.symlink(inside, join(root, "ok-link"));
  const reg = new ModelRegistry({ models: new Map([["default", outside]]), root });
  assert.equal(await reg.resolve("default"), outside);
  assert.equal(await reg.resolve("a/b"), await Deno.realPath(inside));
  assert.equal(await reg.resolve("ok-link"), await Deno.realPath(inside));
  for (
    const bad of ["../outside", "a/../../outside", "/etc", "./a/b", "a//b", "a/b/", "", "a\\b", "a/b\u0000"]
  ) {
    await rejects(reg.resolve(bad), 422, "invalid_model_ref");
  }
  await rejects(reg.resolve("link"), 422, "invalid_model_ref");
  await rejects(reg.resolve("a"), 404, "model_not_found"); // no config.json there
  await rejects(reg.resolve("zzz"), 404, "model_not_found");
  const closed = new ModelRegistry({ models: new Map([["default", outside]]) });
  await rejects(closed.resolve("a/b"), 404, "model_not_found");
  const gone = new ModelRegistry({ models: new Map([["x", join(dir, "missing")]]) });
  await rejects(gone.resolve("x"), 404, "model_not_found");
});

Deno.test("ArtifactStore: atomic writes, checked ids and names, sha256 listing", async () => {
  const root = await Deno.makeTempDir();
  const files = new ArtifactStore(root);
  assert.throws(() => files.jobDir("../x"), /invalid job id/);
  assert.throws(() => files.jobDir("a/b"), /invalid job id/);
  assert.throws(() => files.checkpointDir("job_1", "c"), /slot/);
  await writeFileAtomic(join(files.outDir("job_1"), "a.json"), "{}");
  await writeFileAtomic(join(files.outDir("job_1"), "b.bin"), new Uint8Array([1, 2, 3]));
  await writeFileAtomic(join(files.outDir("job_1"), "b.bin"), new Uint8Array([4, 5]));
  const list = await files.describe("job_1");
  assert.deepEqual(list.map((a) => [a.name, a.size]), [["a.json", 2], ["b.bin", 2]]);
  assert.equal(list[1].sha256, await sha256File(join(files.outDir("job_1"), "b.bin")));
  assert.equal(list[0].sha256, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  for (const bad of ["../request.json", ".hidden", "a/b", ""]) {
    assert.equal(await files.open("job_1", bad), undefined);
  }
  const f = (await files.open("job_1", "b.bin"))!;
  assert.equal(f.size, 2);
  assert.deepEqual([...new Uint8Array(await new Response(f.body).arrayBuffer())], [4, 5]);
  const left = [];
  for await (const e of Deno.readDir(files.outDir("job_1"))) left.push(e.name);
  assert.deepEqual(left.sort(), ["a.json", "b.bin"]); // no temp files
});

Deno.test("spec: HTTP options are the CLI's in snake_case, with the same defaults", () => {
  assert.equal(snake("maxGradNorm"), "max_grad_norm");
  assert.equal(camel("max_grad_norm"), "maxGradNorm");
  assert.equal(camel("beta1"), "beta1");
  const parsed = FinetuneJobSchema.parse({ type: "finetune", model: "m", data: [{ text: "x" }] });
  const defaults = TrainOptionsSchema.parse({});
  for (const [k, v] of Object.entries(defaults)) {
    assert.equal((parsed as Record<string, unknown>)[snake(k)], v, k);
  }
  assert.deepEqual(TrainOptionsSchema.parse(camelKeys(parsed)), defaults);
  assert.equal(parsed.method, "full");
});
