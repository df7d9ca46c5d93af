// Tests for src/io/safetensors.ts: round trips, layout/alignment, hand-written bytes, header validation,
// f16/bf16 conversions and atomic writes.

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  bf16ToF32,
  DTYPE_SIZE,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  type StTensorInput,
  toBigInt64,
  toFloat32,
  writeSafetensors,
} from "../../src/io/safetensors.ts";

const enc = new TextEncoder();
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Builds a file from a raw header string (unpadded) and `dataLen` zero bytes. */
function craft(header: string, dataLen: number, claimedLen?: number): Uint8Array {
  const h = enc.encode(header);
  const out = new Uint8Array(8 + h.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(claimedLen ?? h.length), true);
  out.set(h, 8);
  return out;
}
const entry = (dtype: string, shape: number[], b: number, e: number) =>
  JSON.stringify({ dtype, shape, data_offsets: [b, e] });

Deno.test("round trip of every dtype, with metadata, through a file", async () => {
  const inputs: Record<string, StTensorInput> = {
    f32: { dtype: "F32", shape: [2, 3], data: Float32Array.of(1, -2, 3.5, 0, -0, 1e-30) },
    f16: { dtype: "F16", shape: [3], data: f32ToF16(Float32Array.of(1, -0.5, 65504)) },
    bf16: { dtype: "BF16", shape: [1, 2], data: f32ToBf16(Float32Array.of(3, -7)) },
    f64: { dtype: "F64", shape: [2], data: Float64Array.of(Math.PI, -1e300) },
    i64: { dtype: "I64", shape: [3], data: BigInt64Array.of(1n, -2n, 1n << 62n) },
    i32: { dtype: "I32", shape: [2], data: Int32Array.of(-5, 2 ** 31 - 1) },
    u8: { dtype: "U8", shape: [3], data: Uint8Array.of(0, 128, 255) },
    i8: { dtype: "I8", shape: [2], data: Int8Array.of(-128, 127) },
    bool: { dtype: "BOOL", shape: [2], data: Uint8Array.of(1, 0) },
    scalar: { dtype: "F32", shape: [], data: Float32Array.of(42) },
    empty: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
  };
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "t.safetensors");
    await writeSafetensors(path, inputs, { format: "pt", note: "héllo" });
    const { tensors, metadata } = await readSafetensors(path);
    assert.deepEqual(metadata, { format: "pt", note: "héllo" });
    assert.deepEqual([...tensors.keys()].sort(), Object.keys(inputs).sort());
    for (const [name, t] of Object.entries(inputs)) {
      const got = tensors.get(name)!;
      assert.equal(got.dtype, t.dtype, name);
      assert.deepEqual(got.shape, t.shape, name);
      assert.deepEqual(got.data, bytesOf(t.data), name);
    }
    assert.deepEqual(toFloat32(tensors.get("f32")!), inputs.f32.data);
    assert.deepEqual([...toFloat32(tensors.get("f16")!)], [1, -0.5, 65504]);
    assert.deepEqual([...toFloat32(tensors.get("bf16")!)], [3, -7]);
    assert.deepEqual(toFloat32(tensors.get("f64")!), Float32Array.of(Math.PI, -Infinity));
    assert.deepEqual([...toFloat32(tensors.get("i8")!)], [-128, 127]);
    assert.deepEqual(toBigInt64(tensors.get("i64")!), inputs.i64.data);
    assert.deepEqual([...toBigInt64(tensors.get("i32")!)], [-5n, 2n ** 31n - 1n]);
    assert.deepEqual([...toBigInt64(tensors.get("u8")!)], [0n, 128n, 255n]);
    assert.throws(() => toBigInt64(tensors.get("f32")!), /float dtype F32/);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["t.safetensors"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("layout: padded header, aligned tensor starts, sorted by dtype size then name", () => {
  const bytes = serializeSafetensors({
    b_u8: { dtype: "U8", shape: [3], data: Uint8Array.of(1, 2, 3) },
    a_f16: { dtype: "F16", shape: [3], data: new Uint16Array(3) },
    z_f32: { dtype: "F32", shape: [2], data: new Float32Array(2) },
    c_i64: { dtype: "I64", shape: [1], data: new BigInt64Array(1) },
    a_f32: { dtype: "F32", shape: [1], data: new Float32Array(1) },
  }, { k: "v" });
  const hlen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(hlen % 8, 0);
  assert.equal((8 + hlen) % 8, 0);
  assert.equal(new TextDecoder().decode(bytes.subarray(8, 8 + hlen)).trimEnd().endsWith("}"), true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen)));
  const order = Object.entries(header).filter(([k]) => k !== "__metadata__")
    .sort((x, y) =>
      (x[1] as { data_offsets: number[] }).data_offsets[0] -
      (y[1] as { data_offsets: number[] }).data_offsets[0]
    )
    .map(([k]) => k);
  assert.deepEqual(order, ["c_i64", "a_f32", "z_f32", "a_f16", "b_u8"]);
  for (const [name, t] of parseSafetensors(bytes)) {
    assert.equal(t.data.byteOffset % DTYPE_SIZE[t.dtype], 0, name); // file-relative (buffer starts at 0)
  }
  // When every tensor's byte size is a multiple of 8, every start is 8-byte aligned.
  const even = serializeSafetensors({
    x: { dtype: "F16", shape: [4], data: new Uint16Array(4) },
    y: { dtype: "F32", shape: [6], data: new Float32Array(6) },
    w: { dtype: "U8", shape: [16], data: new Uint8Array(16) },
    v: { dtype: "F64", shape: [1], data: new Float64Array(1) },
  });
  for (const [name, t] of parseSafetensors(even)) assert.equal(t.data.byteOffset % 8, 0, name);
  // Aligned F32 data is returned as a zero-copy view.
  const f = parseSafetensors(even).get("y")!;
  assert.equal(toFloat32(f).buffer, even.buffer);
});

Deno.test("hand-written file bytes parse, and the writer produces exactly them", () => {
  // header: {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} = 54 bytes + 2 spaces = 56 = 0x38
  const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  ';
  // deno-fmt-ignore
  const expected = Uint8Array.of(
    0x38, 0, 0, 0, 0, 0, 0, 0,
    ...[...header].map((c) => c.charCodeAt(0)),
    0x00, 0x00, 0x80, 0x3f, // 1.0f
    0x00, 0x00, 0x20, 0xc0, // -2.5f
  );
  assert.equal(expected.length, 8 + 56 + 8);
  const t = parseSafetensors(expected).get("a")!;
  assert.equal(t.dtype, "F32");
  assert.deepEqual(t.shape, [2]);
  assert.deepEqual([...toFloat32(t)], [1, -2.5]);
  assert.deepEqual(
    serializeSafetensors({ a: { dtype: "F32", shape: [2], data: Float32Array.of(1, -2.5) } }),
    expected,
  );
  // Unaligned buffer: toFloat32 copies instead of viewing.
  const shifted = new Uint8Array(expected.length + 1);
  shifted.set(expected, 1);
  assert.deepEqual([...toFloat32(parseSafetensors(shifted.subarray(1)).get("a")!)], [1, -2.5]);
});

Deno.test("header validation errors name the file and the tensor", () => {
  const bad = (bytes: Uint8Array, re: RegExp) => assert.throws(() => parseSafetensors(bytes, "f.st"), re);
  bad(craft(`{"w":${entry("F8", [2], 0, 2)}}`, 2), /f\.st: tensor "w": unknown dtype "F8"/);
  bad(
    craft(`{"w":${entry("F32", [3], 0, 8)}}`, 8),
    /tensor "w": data_offsets span 8 bytes but F32\[3\] needs 12/,
  );
  bad(
    craft(`{"a":${entry("F32", [1], 0, 4)},"b":${entry("F32", [1], 8, 12)}}`, 12),
    /gap in data before tensor "b"/,
  );
  bad(
    craft(`{"a":${entry("F32", [2], 0, 8)},"b":${entry("F32", [1], 4, 8)}}`, 8),
    /tensor "b" overlaps tensor "a"|tensor "a" overlaps tensor "b"/,
  );
  bad(craft(`{"a":${entry("F32", [1], 4, 8)}}`, 8), /gap in data before tensor "a"/);
  bad(craft(`{"a":${entry("F32", [1], 0, 4)}}`, 6), /data section has 6 bytes but tensors cover 4/);
  bad(craft(`{"a":${entry("F32", [2], 0, 8)}}`, 4), /tensor "a" ends at 8, past data section \(4 bytes\)/);
  bad(craft(`{"a":${entry("F32", [1], 0, 4)}}`, 4, 1000), /f\.st: header length 1000 larger than file/);
  bad(craft("{}", 0, 200_000_000), /header length 200000000 exceeds/);
  bad(
    craft(`{"dup":${entry("F32", [1], 0, 4)},"dup":${entry("F32", [1], 4, 8)}}`, 8),
    /f\.st: duplicate key "dup"/,
  );
  bad(
    craft(`{"d\\u0075p":${entry("U8", [1], 0, 1)},"dup":${entry("U8", [1], 1, 2)}}`, 2),
    /duplicate key "dup"/,
  );
  bad(
    craft(`{"w":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1),
    /tensor "w": duplicate field/,
  );
  bad(craft(`{"w":{"dtype":"F32","shape":[1]}}`, 4), /tensor "w": needs dtype, shape and data_offsets/);
  bad(craft(`{"w":${entry("F32", [-1], 0, 4)}}`, 4), /tensor "w": invalid shape/);
  bad(craft(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[1,0]}}`, 1), /tensor "w": invalid data_offsets/);
  bad(craft(`{"__metadata__":{"a":1}}`, 0), /__metadata__ value for "a" is not a string/);
  bad(craft(`[1,2]`, 0), /not a JSON object/);
  bad(craft(`{"a":`, 0), /not valid JSON/);
  const badUtf8 = craft(`{"a":1}`, 0);
  badUtf8[10] = 0xff;
  bad(badUtf8, /not valid UTF-8/);
  bad(new Uint8Array(4), /too short/);
  // A tensor name containing braces/quotes does not confuse the duplicate-key scan.
  const ok = parseSafetensors(craft(`{"a{\\"}":${entry("U8", [1], 0, 1)},"b":${entry("U8", [1], 1, 2)}}`, 2));
  assert.deepEqual([...ok.keys()].sort(), ['a{"}', "b"]);
  assert.throws(
    () => serializeSafetensors({ w: { dtype: "F32", shape: [3], data: new Float32Array(2) } }),
    /tensor "w": 8 bytes, shape needs 12/,
  );
  assert.throws(
    () => serializeSafetensors({ w: { dtype: "I32", shape: [2], data: new Float32Array(2) } }),
    /tensor "w": I32 data must be Int32Array or Uint8Array/,
  );
});

Deno.test("f16 conversion: exact values, round-to-nearest-even, inf/nan, exhaustive round trip", () => {
  const h = (...xs: number[]) => [...f32ToF16(Float32Array.from(xs))];
  assert.deepEqual(h(0, -0, 1, -2, 0.5, 65504), [0x0000, 0x8000, 0x3c00, 0xc000, 0x3800, 0x7bff]);
  assert.deepEqual(h(2 ** -14, 2 ** -24, 1023 * 2 ** -24), [0x0400, 0x0001, 0x03ff]);
  assert.deepEqual(h(1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20), [0x3c00, 0x3c02, 0x3c01]); // ties
  assert.deepEqual(h(2 ** -25, 3 * 2 ** -25, 5 * 2 ** -25, 2 ** -26), [0x0000, 0x0002, 0x0002, 0x0000]); // subnormal ties
  assert.deepEqual(h(65519, 65520, 1e10, -1e10), [0x7bff, 0x7c00, 0x7c00, 0xfc00]); // overflow
  assert.deepEqual(h(Infinity, -Infinity), [0x7c00, 0xfc00]);
  const [nan] = h(NaN);
  assert.equal(nan & 0x7c00, 0x7c00);
  assert.notEqual(nan & 0x3ff, 0);
  assert.deepEqual([...f16ToF32(Uint16Array.of(0x3c00, 0x0001, 0x8000, 0x7c00, 0xfc00))], [
    1,
    2 ** -24,
    -0,
    Infinity,
    -Infinity,
  ]);
  assert.ok(Number.isNaN(f16ToF32(Uint16Array.of(0x7e00))[0]));
  const all = new Uint16Array(65536).map((_, i) => i);
  const back = f32ToF16(f16ToF32(all));
  for (let i = 0; i < 65536; i++) {
    const isNan = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
    if (isNan) assert.ok(Number.isNaN(f16ToF32(back.subarray(i, i + 1))[0]));
    else assert.equal(back[i], i, `half 0x${i.toString(16)}`);
  }
});

Deno.test("bf16 conversion: round-to-nearest-even, overflow, inf/nan, exhaustive round trip", () => {
  const b = (...xs: number[]) => [...f32ToBf16(Float32Array.from(xs))];
  assert.deepEqual(b(1, -2, 0, -0), [0x3f80, 0xc000, 0x0000, 0x8000]);
  assert.deepEqual(b(1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20), [0x3f80, 0x3f82, 0x3f81]);
  assert.deepEqual(b(3.4028234663852886e38, Infinity, -Infinity), [0x7f80, 0x7f80, 0xff80]);
  const [nan] = b(NaN);
  assert.equal(nan & 0x7f80, 0x7f80);
  assert.notEqual(nan & 0x7f, 0);
  assert.deepEqual([...bf16ToF32(Uint16Array.of(0x3f80, 0xc000, 0x7f80))], [1, -2, Infinity]);
  const all = new Uint16Array(65536).map((_, i) => i);
  const back = f32ToBf16(bf16ToF32(all));
  for (let i = 0; i < 65536; i++) {
    if ((i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0) {
      assert.ok(Number.isNaN(bf16ToF32(back.subarray(i, i + 1))[0]));
    } else assert.equal(back[i], i, `bf16 0x${i.toString(16)}`);
  }
});

Deno.test("writeSafetensors removes its temp file when the rename fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const target = join(dir, "is_a_dir");
    await Deno.mkdir(target);
    await Deno.writeTextFile(join(target, "keep"), "x");
    await assert.rejects(() =>
      writeSafetensors(target, { w: { dtype: "U8", shape: [1], data: Uint8Array.of(1) } })
    );
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["is_a_dir"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
