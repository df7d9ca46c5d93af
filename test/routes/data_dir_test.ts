/**
 * The data dir at start (issue 12.6): temp siblings left by killed writes are swept; a second server
 * on a held data dir, or on a busy port, fails clearly before it touches any job.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createService } from "../../routes/app.ts";
import { newJobId } from "../../src/jobs/store.ts";
import { freePort, startServer } from "./_server.ts";

const write = async (path: string, text = "x") => {
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeTextFile(path, text);
};

Deno.test("data dir: a new service sweeps the temp dirs and files killed writes left, and nothing else", async () => {
  const dir = await Deno.makeTempDir();
  const job = join(dir, "jobs", "job_00000000a_0badf00d");
  const left = [
    join(job, "out.tmp-1a2b3c4d"), // a model dir being written (with its own temp file inside)
    join(job, ".ckpt-a.tmp-deadbeef"), // a checkpoint slot being written
    join(job, ".request.json.tmp-00c0ffee"),
    join(job, "ckpt-b", ".model.safetensors.tmp-12345678"),
    join(job, "out", "model.safetensors.tmp-9abcdef0"),
  ];
  await write(join(left[0], "model.safetensors.tmp-aaaaaaaa"));
  await write(join(left[1], "weights.safetensors"));
  for (const f of left.slice(2)) await write(f);
  const kept = [
    join(job, "request.json"),
    join(job, "ckpt-b", "model.safetensors"),
    join(job, "out", "model.safetensors"),
    join(dir, "notes.tmp-1a2b3c4d"), // outside jobs/: not ours to sweep
  ];
  for (const f of kept) await write(f);
  const svc = await createService({ dataDir: dir, kv: true, executor: "inline" });
  try {
    for (const p of left) assert.equal(await Deno.stat(p).then(() => true, () => false), false, p);
    for (const p of kept) assert.ok((await Deno.stat(p)).isFile, p);
  } finally {
    await svc.close();
  }
});

Deno.test("data dir: a second service on a held data dir fails naming the holder, and touches no job", async () => {
  const dir = await Deno.makeTempDir();
  const a = await createService({ dataDir: dir, kv: true, executor: "inline", port: 8123 });
  try {
    // a job that is running (as far as the store knows): a second server would resume it
    const t = new Date().toISOString(), id = newJobId();
    await a.runner.store.create({
      id,
      type: "eval",
      status: "running",
      model: "tiny",
      created_at: t,
      updated_at: t,
      progress: { step: 0, steps: 1 },
      version: 0,
    });
    await assert.rejects(
      createService({ dataDir: dir, kv: true, executor: "inline" }),
      new RegExp(`data dir .* is in use by another posttrain server \\(pid ${Deno.pid}, port 8123`),
    );
    const j = (await a.runner.store.get(id))!;
    assert.equal(j.status, "running");
    assert.equal(j.resumes, undefined);
    assert.equal(j.version, 0);
  } finally {
    await a.close();
  }
  // released on close: the dir can be taken again
  const b = await createService({ dataDir: dir, kv: true, executor: "inline" });
  await b.close();
});

Deno.test("data dir: a second real server on the same port or the same data dir exits 1 with a clear error", async () => {
  const data = await Deno.makeTempDir();
  const env = { POSTTRAIN_DATA_DIR: data, POSTTRAIN_KV: join(data, "jobs.kv") };
  const first = await startServer(env);
  try {
    const second = (port: number) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "main.ts"],
        cwd: fileURLToPath(new URL("../../", import.meta.url)),
        env: { ...env, PORT: String(port), NO_COLOR: "1" },
        stdout: "null",
        stderr: "piped",
      }).output();
    const busy = await second(Number(new URL(first.url).port));
    assert.equal(busy.code, 1);
    assert.match(new TextDecoder().decode(busy.stderr), /error: port \d+ is in use/);
    const held = await second(freePort());
    assert.equal(held.code, 1);
    assert.match(
      new TextDecoder().decode(held.stderr),
      /error: data dir .* is in use by another posttrain server/,
    );
    assert.equal((await (await fetch(`${first.url}/health`)).json()).status, "ok");
  } finally {
    await first.stop();
  }
});
