/**
 * Every storage behaves as the file system does for what the library asks of it: atomic whole-file
 * writes that create parent dirs, reads at offsets, stat / list / remove, directory renames (how
 * checkpoints and output dirs are put in place) and not-found errors that `isNotFound` recognizes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FsStorage } from "../../src/io/fs_storage.ts";
import { CHUNK_BYTES, type DurableObjectKv, DurableStorage } from "../../src/io/durable_storage.ts";
import { isNotFound, MemoryStorage, MountStorage, type Storage, UrlStorage } from "../../src/io/storage.ts";

/** A Durable Object storage stand-in: a Map with the API's batch calls and its 128-key limit. */
export function fakeDurableKv(): DurableObjectKv & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  const limit = (n: number) => {
    if (n > 128) throw new Error(`${n} keys in one call`);
  };
  const get = (k: string | string[]) => {
    if (typeof k === "string") return Promise.resolve(structuredClone(map.get(k)));
    limit(k.length);
    return Promise.resolve(new Map(k.filter((x) => map.has(x)).map((x) => [x, structuredClone(map.get(x))])));
  };
  const list = (o: { prefix: string }) =>
    Promise.resolve(
      new Map([...map].filter(([k]) => k.startsWith(o.prefix)).sort(([a], [b]) => (a < b ? -1 : 1))),
    );
  return {
    map,
    get: get as DurableObjectKv["get"],
    put: (e) => {
      limit(Object.keys(e).length);
      for (const [k, v] of Object.entries(e)) {
        if (v instanceof Uint8Array && v.length > CHUNK_BYTES) throw new Error(`value of ${v.length} bytes`);
        map.set(k, structuredClone(v));
      }
      return Promise.resolve();
    },
    delete: (keys) => {
      limit(keys.length);
      return Promise.resolve(keys.filter((k) => map.delete(k)).length);
    },
    list: list as DurableObjectKv["list"],
  };
}

async function conformance(s: Storage, root: string): Promise<void> {
  const p = (x: string) => join(root, x);
  const big = new Uint8Array(CHUNK_BYTES * 2 + 1234).map((_, i) => (i * 7) & 255);
  await s.write(p("a/b/big.bin"), big);
  await s.write(p("a/b/c.json"), '{"x":1}');
  await s.write(p("a/b/c.json"), '{"x":2}');
  assert.equal(new TextDecoder().decode(await s.read(p("a/b/c.json"))), '{"x":2}');
  assert.deepEqual(await s.read(p("a/b/big.bin")), big);
  const f = await s.open(p("a/b/big.bin"));
  assert.equal(f.size, big.length);
  const at = CHUNK_BYTES - 10;
  assert.deepEqual(await f.read(at, new Uint8Array(CHUNK_BYTES + 20)), big.slice(at, at + CHUNK_BYTES + 20));
  f.close();
  assert.equal((await s.stat(p("a/b/big.bin")))?.size, big.length);
  assert.equal((await s.stat(p("a/b")))?.isDirectory, true);
  assert.equal(await s.stat(p("a/nothing")), undefined);
  assert.deepEqual((await s.list(p("a/b"))).map((e) => [e.name, e.isFile]).sort(), [["big.bin", true], [
    "c.json",
    true,
  ]]);
  assert.deepEqual((await s.list(p("a"))).map((e) => [e.name, e.isDirectory]), [["b", true]]);
  await assert.rejects(s.read(p("a/missing")), (e) => isNotFound(e));
  await assert.rejects(s.list(p("nope")), (e) => isNotFound(e));
  // a directory built aside and renamed into place, as checkpoints are
  await s.mkdir(p("tmp-x"));
  await s.write(p("tmp-x/w.bin"), new Uint8Array([1, 2, 3]));
  await s.rename(p("tmp-x"), p("ckpt"));
  assert.deepEqual(await s.read(p("ckpt/w.bin")), new Uint8Array([1, 2, 3]));
  assert.equal(await s.stat(p("tmp-x")), undefined);
  await s.copy(p("ckpt/w.bin"), p("ckpt/w2.bin"));
  assert.deepEqual(await s.read(p("ckpt/w2.bin")), new Uint8Array([1, 2, 3]));
  await s.remove(p("ckpt"), { recursive: true });
  assert.equal(await s.stat(p("ckpt/w.bin")), undefined);
  await assert.rejects(s.remove(p("ckpt")), (e) => isNotFound(e));
  await s.remove(p("a/b/c.json"));
  assert.deepEqual((await s.list(p("a/b"))).map((e) => e.name), ["big.bin"]);
}

Deno.test("storage: the file system", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await conformance(new FsStorage(), dir);
    const left = [];
    for await (const e of Deno.readDir(join(dir, "a", "b"))) left.push(e.name);
    assert.deepEqual(left, ["big.bin"]); // no temp files
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("storage: bytes in memory", async () => {
  await conformance(new MemoryStorage(), "");
  await conformance(new MemoryStorage(), "/abs/root");
});

Deno.test("storage: Durable Object storage, chunked (no value past the limit, no key left behind)", async () => {
  const kv = fakeDurableKv();
  await conformance(new DurableStorage(kv), "jobs");
  const keys = [...kv.map.keys()];
  // what is left: big.bin's metadata and its 3 chunks, plus the directory markers mkdir left
  assert.deepEqual(keys.filter((k) => k.startsWith("f:")), ["f:jobs/a/b/big.bin"]);
  assert.equal(keys.filter((k) => k.startsWith("c:")).length, 3);
  // a file written with smaller values reads back the same under another chunk size
  const small = new DurableStorage(kv, { chunkBytes: 1000 }),
    bytes = new Uint8Array(4321).map((_, i) => i % 251);
  await small.write("x.bin", bytes);
  assert.deepEqual(await new DurableStorage(kv).read("x.bin"), bytes);
  const f = await new DurableStorage(kv).open("x.bin");
  assert.deepEqual(await f.read(990, new Uint8Array(1020)), bytes.slice(990, 2010));
});

Deno.test("storage: mounts route by the longest prefix, each seeing paths relative to it", async () => {
  const model = new MemoryStorage({ "config.json": "{}" }), rest = new MemoryStorage();
  const s = new MountStorage({ "models/default": model, "": rest });
  assert.equal(new TextDecoder().decode(await s.read("models/default/config.json")), "{}");
  assert.equal(await s.realPath("./models/default/config.json"), "/models/default/config.json");
  await conformance(s, "data");
  assert.equal((await rest.stat("data/a/b/big.bin"))?.isFile, true);
  await assert.rejects(s.rename("data/a", "models/default/a"), /across storages/);
});

Deno.test("storage: a URL base reads files over fetch, 404 is not-found, writes are refused", async () => {
  const files: Record<string, string> = { "/m/config.json": '{"a":1}' };
  const fetcher = (input: RequestInfo | URL, init?: RequestInit) => {
    const body = files[new URL(String(input)).pathname];
    if (body === undefined) return Promise.resolve(new Response("no", { status: 404 }));
    const headers = { "content-length": String(body.length) };
    return Promise.resolve(new Response(init?.method === "HEAD" ? null : body, { headers }));
  };
  const s = new UrlStorage("https://example.test/m/", fetcher);
  assert.equal(new TextDecoder().decode(await s.read("config.json")), '{"a":1}');
  // a server without ranges: the file is read whole once
  const f = await new UrlStorage("https://example.test/m/", fetcher, { ranges: true }).open("config.json");
  assert.equal(new TextDecoder().decode(await f.read(1, new Uint8Array(4))), '"a":');
  assert.equal((await s.stat("config.json"))?.size, 7);
  assert.equal(await s.stat("missing.json"), undefined);
  await assert.rejects(s.read("missing.json"), (e) => isNotFound(e));
  await assert.rejects(s.write("x", "y"), /read-only/);
});

Deno.test("storage: a URL file is read by byte ranges where the server serves them", async () => {
  const body = new Uint8Array(1000).map((_, i) => i & 255);
  const asked: string[] = [];
  const fetcher = (_input: RequestInfo | URL, init?: RequestInit) => {
    if (init?.method === "HEAD") {
      return Promise.resolve(new Response(null, { headers: { "content-length": "1000" } }));
    }
    const range = new Headers(init?.headers).get("range")!;
    asked.push(range);
    const [a, b] = range.slice(6).split("-").map(Number);
    return Promise.resolve(new Response(body.slice(a, b + 1), { status: 206 }));
  };
  const f = await new UrlStorage("https://example.test/", fetcher, { ranges: true }).open(
    "model.safetensors",
  );
  assert.equal(f.size, 1000);
  assert.deepEqual(await f.read(100, new Uint8Array(50)), body.slice(100, 150));
  assert.deepEqual(asked, ["bytes=100-149"]);
});
