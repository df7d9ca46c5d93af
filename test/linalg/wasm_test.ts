import assert from "node:assert/strict";
import { kernelsFromModule, loadKernels } from "../../wasm/mod.ts";
import { randomMatrix, sameBytes } from "./_helpers.ts";

const WASM_URL = new URL("../../wasm/kernels.wasm", import.meta.url);

Deno.test("loadKernels accepts the default file, bytes, a URL and a compiled Module", async () => {
  const bytes = await Deno.readFile(WASM_URL);
  const mod = await WebAssembly.compile(bytes);
  const kernels = [
    await loadKernels(),
    await loadKernels(bytes),
    await loadKernels(WASM_URL),
    await loadKernels(mod),
  ];
  kernels.push(kernelsFromModule(mod));
  const a = randomMatrix(12, 9, 1);
  const ref = kernels[0].svdTopR(a, 12, 9, 3, { seed: 4 });
  for (const k of kernels.slice(1)) assert.ok(sameBytes(k.svdTopR(a, 12, 9, 3, { seed: 4 }).s, ref.s));
});

Deno.test("views are re-created after memory growth; the arena is reused across calls", async () => {
  const k = await loadKernels();
  const small = randomMatrix(64, 1, 2);
  const before = k.quantize(small, { bits: 4 });
  const start = k.memoryBytes;
  const big = randomMatrix(1024, 1024, 3); // 4 MiB in + scratch: forces memory.grow
  const q = k.quantize(big, { bits: 8, groupSize: 256 });
  const grown = k.memoryBytes;
  assert.ok(grown > start, `memory grew (${start} → ${grown})`);
  assert.equal(q.data.length, big.length);
  const back = k.dequantize(q);
  for (let i = 0; i < big.length; i += 4099) assert.ok(Math.abs(back[i] - big[i]) <= q.scales[i >> 8]);
  assert.ok(sameBytes(k.quantize(small, { bits: 4 }).data, before.data));
  for (let i = 0; i < 5; i++) k.quantize(big, { bits: 8 });
  assert.equal(k.memoryBytes, grown, "repeated calls reuse the arena");
});

const rustc = await Deno.stat("/usr/bin/rustc").then(() => true, () => false);

Deno.test({
  name: "the committed kernels.wasm is what wasm/build.ts builds from wasm/*.rs",
  ignore: !rustc,
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../../wasm/build.ts", import.meta.url).pathname, "--check"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.ok(out.success, text);
    assert.match(text, /up to date/);
  },
});
