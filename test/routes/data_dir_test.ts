/**
 * The data dir at start (issues 12.6, 18): temp siblings left by killed writes are swept; a second server
 * on a busy port fails clearly before it touches any job; servers on other ports share the data dir,
 * leaving the jobs a live instance holds and taking a dead one's at once.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createService } from "../../routes/app.ts";
import { type JobRecord, newJobId } from "../../src/jobs/store.ts";
import { registerInstance } from "../../src/jobs/data_dir.ts";
import { startServer } from "./_server.ts";

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

Deno.test("data dir: a second service shares the data dir, leaves a job a live instance holds, and takes a dead one's at once", async () => {
  const dir = await Deno.makeTempDir();
  const a = await createService({ dataDir: dir, kv: true, executor: "inline", port: 8123 });
  const t = new Date().toISOString();
  const running = (holder: string): JobRecord => ({
    id: newJobId(),
    type: "eval",
    status: "running",
    model: "tiny",
    created_at: t,
    updated_at: t,
    progress: { step: 0, steps: 1 },
    lease: { holder, expires: Date.now() + 600_000 },
    version: 0,
  });
  // held by the live instance a; and by one that registered and died (its lock file is free)
  const held = running(a.runner.instance);
  await a.runner.store.create(held);
  const dead = await registerInstance(dir, {}, "dead-1");
  dead.release();
  await Deno.writeTextFile(join(dir, "instances", "dead-1.lock"), "{}"); // as a SIGKILL leaves it
  const orphan = running("dead-1");
  await a.runner.store.create(orphan);
  let b;
  try {
    b = await createService({ dataDir: dir, kv: true, executor: "inline" });
    const j = (await b.runner.store.get(held.id))!;
    assert.equal(j.status, "running");
    assert.equal(j.resumes, undefined);
    assert.equal(j.version, 0, "a job a live instance holds is not touched");
    let o = (await b.runner.store.get(orphan.id))!;
    for (let i = 0; i < 200 && o.version === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      o = (await b.runner.store.get(orphan.id))!;
    }
    assert.notEqual(o.lease?.holder, "dead-1", "the dead instance's job was taken over");
    assert.equal(o.resumes, 1);
  } finally {
    await b?.close();
    await a.close();
  }
});

Deno.test("data dir: a second real server on the same port exits 1 with a clear error; on another port it shares the data dir", async () => {
  const data = await Deno.makeTempDir();
  const env = { POSTTRAIN_DATA_DIR: data, POSTTRAIN_KV: join(data, "jobs.kv") };
  const first = await startServer(env);
  try {
    const busy = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts"],
      cwd: fileURLToPath(new URL("../../", import.meta.url)),
      env: { ...env, PORT: new URL(first.url).port, NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(busy.code, 1);
    assert.match(new TextDecoder().decode(busy.stderr), /error: port \d+ is in use/);
    const second = await startServer(env);
    try {
      assert.equal((await (await fetch(`${second.url}/health`)).json()).status, "ok");
    } finally {
      await second.stop();
    }
    assert.equal((await (await fetch(`${first.url}/health`)).json()).status, "ok");
  } finally {
    await first.stop();
  }
});
