/**
 * @module Compiling an IR graph for the lean backend: recomputation at block boundaries, a schedule,
 * folds (transposes and quantized weights into the matmuls that read them, sibling backward ops into
 * one kernel call), and per input shapes a static memory plan whose steps are prebuilt kernel calls.
 * A run copies the fed inputs that do not already live in the device, runs the steps, hands streamed
 * outputs to the caller as soon as they are computed and returns the rest. TypeScript only schedules;
 * all arithmetic runs in the device's kernels.
 */
import type { Tensor } from "../../graph/ir.ts";
import { isFloat } from "../../graph/ir.ts";
import { recompute as recomputeBlocks } from "../../graph/recompute.ts";
import type { HostTensor, TensorData } from "../session.ts";
import type { CompileOptions, MemoryPlan, Program, RunOptions } from "../program.ts";
import { type AddrEnv, LEAN_OPS, numelOf, type ShapeEnv } from "./op.ts";
import "./primitives.ts";
import "./fused.ts";
import { concreteShapes, schedule } from "./schedule.ts";
import { type MemoryLayout, planMemory } from "./plan.ts";
import { LeanDevice } from "./device.ts";
import { host } from "../../util/host.ts";

let shared: Promise<LeanDevice> | undefined;

/** Time per op kind when `POSTTRAIN_LEAN_PROFILE=1` (printed to stderr at exit by bench programs). */
export const profile: { add(op: string, ms: number): void; table(): [string, number, number][] } | undefined =
  (() => {
    if (host().env("POSTTRAIN_LEAN_PROFILE") !== "1") return undefined;
    const t = new Map<string, [number, number]>();
    return {
      add: (op, ms) => {
        const e = t.get(op) ?? [0, 0];
        t.set(op, [e[0] + ms, e[1] + 1]);
      },
      table: () =>
        [...t].map(([op, [ms, n]]) => [op, ms, n] as [string, number, number]).sort((a, b) => b[1] - a[1]),
    };
  })();
let sharedOptions: { source?: WebAssembly.Module; reserve?: number } = {};

/**
 * How the process-wide device will be created, before its first use: from a precompiled kernels module
 * (Workers refuse to compile bytes) and with `reserve` bytes of linear memory (default 4 GiB less a page:
 * untouched pages cost no resident memory in Deno, workerd or Chromium, but a runtime that counts the
 * reservation against its limit needs it sized to the job).
 *
 * @example
 * ```ts ignore
 * configureSharedDevice({ reserve: 256 << 20 });
 * ```
 */
export function configureSharedDevice(opts: { source?: WebAssembly.Module; reserve?: number }): void {
  if (shared) throw new Error("configureSharedDevice: the shared lean device exists already");
  sharedOptions = opts;
}

/** The process-wide lean device (one WASM memory for every lean program). */
export function sharedDevice(): Promise<LeanDevice> {
  return shared ??= LeanDevice.create(sharedOptions);
}

/** Options of {@link compileLean} beyond {@link CompileOptions}. */
export interface LeanOptions extends CompileOptions {
  /** The device to run on (default the shared one). */
  device?: LeanDevice;
}

/** A compiled lean program: a {@link Program} that can also plan its memory without running. */
export interface LeanProgram extends Program {
  readonly device: LeanDevice;
  /** Nodes of the compiled graph (after recomputation): what its JS-side structures scale with. */
  readonly nodes: number;
  /**
   * The memory plan for inputs of these shapes (by input name; symbolic dims from `dims` otherwise),
   * with the inputs named in `resident` (default: every input of static shape) kept in the device and
   * the outputs `stream` selects handed out as soon as computed (as `run` with `onOutput` does).
   */
  plan(
    shapes?: Record<string, number[]>,
    resident?: ReadonlySet<string>,
    opts?: { stream?: (name: string) => boolean },
  ): MemoryPlan;
}

interface Built {
  layout: MemoryLayout;
  shapes: Map<Tensor, number[]>;
  /** Values of host-side int inputs, read by the steps' closures (refreshed each run). */
  host: Map<Tensor, bigint>;
  steps: (() => void)[];
  /** Step index → outputs (names) computed by it, for streaming. */
  computed: Map<number, Tensor[]>;
  arenaBase: number;
  addresses: Map<Tensor, number>;
}

/**
 * Compile `outputs` for the lean backend (refusing, by op name, a graph it cannot run).
 *
 * @example
 * ```ts ignore
 * const p = await compileLean({ y: mul(x, x) }, { dims: { N: 1024 } });
 * const { y } = await p.run({ x: f32(data, [1024]) });
 * ```
 */
export async function compileLean(
  outputs: Record<string, Tensor>,
  opts: LeanOptions = {},
): Promise<LeanProgram> {
  const device = opts.device ?? await sharedDevice();
  const k = device.kernels;
  const hasGrad = Object.keys(outputs).some((n) => n.startsWith("grad:") || n.startsWith("hz:"));
  const rc = opts.recompute ?? hasGrad ? recomputeBlocks(outputs) : undefined;
  const outs = rc?.outputs ?? outputs;
  const order = schedule(Object.values(outs), rc?.late);
  for (const t of order) {
    if (t.op !== "input" && t.op !== "const" && !LEAN_OPS[t.op]) {
      throw new Error(`backend lean cannot run op ${t.op} (${t})`);
    }
    if (t.dtype === "float16" || t.dtype === "int8") {
      throw new Error(`backend lean: dtype ${t.dtype} in ${t}`);
    }
  }
  const consumers = new Map<Tensor, Tensor[]>();
  for (const t of order) for (const i of t.inputs) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(t);
  const outputTensors = new Set(Object.values(outs));

  // ── folds: transposes of the last two axes and quantized weights read in place by matmuls
  const swapsLast = (t: Tensor) => {
    if (t.op !== "transpose") return false;
    const p = t.attrs.perm as number[], r = p.length;
    return p.every((x, i) => (i < r - 2 ? x === i : x === (i === r - 2 ? r - 1 : r - 2)));
  };
  const folded = new Set<Tensor>();
  for (const t of [...order].reverse()) {
    if (outputTensors.has(t)) continue;
    const cs = consumers.get(t) ?? [];
    const viaMatmul = (c: Tensor, asRight: boolean) =>
      (c.op === "matmul" && (!asRight || c.inputs[1] === t)) || (folded.has(c) && swapsLast(c));
    if (swapsLast(t) && cs.length > 0 && cs.every((c) => viaMatmul(c, false))) folded.add(t);
    // quantized weights are read in place by matmuls, embedding lookups and the fused LM head
    const readsQuantized = (c: Tensor) =>
      viaMatmul(c, true) || (c.op === "gather_rows" && c.inputs[0] === t) ||
      (c.op === "lm_token_nll" && c.inputs[1] === t) ||
      (c.op.startsWith("lm_token_nll_d") && c.inputs[2] === t);
    if (t.op === "dequantize" && cs.length > 0 && cs.every(readsQuantized)) folded.add(t);
  }
  const operand = (t: Tensor) => {
    let base = t, trans = false;
    while (folded.has(base) && swapsLast(base)) {
      base = base.inputs[0];
      trans = !trans;
    }
    return { base, trans };
  };

  // ── groups: sibling backward ops with the same inputs run as one step
  const leaderOf = new Map<Tensor, Tensor>();
  const members = new Map<Tensor, Tensor[]>();
  const byKey = new Map<string, Tensor>();
  const ids = new Map<Tensor, number>(order.map((t, i) => [t, i]));
  for (const t of order) {
    const g = LEAN_OPS[t.op]?.group;
    if (!g) continue;
    const key = `${g}:${t.inputs.map((i) => ids.get(i)).join(",")}:${JSON.stringify(t.attrs)}`;
    const lead = byKey.get(key);
    if (lead) {
      leaderOf.set(t, lead);
      members.get(lead)!.push(t);
    } else {
      byKey.set(key, t);
      members.set(t, [t]);
    }
  }
  const steps = order.filter((t) =>
    t.op !== "input" && t.op !== "const" && !folded.has(t) && !leaderOf.has(t) &&
    LEAN_OPS[t.op].view === undefined
  );
  const readsOf = (t: Tensor): Tensor[] => {
    const xs: Tensor[] = [];
    const add = (x: Tensor) => {
      const b = operand(x).base;
      if (b.op === "dequantize" && folded.has(b)) xs.push(...b.inputs);
      else xs.push(b);
    };
    for (const m of members.get(t) ?? [t]) m.inputs.forEach(add);
    return xs;
  };

  // ── constants and inputs
  const inputs = order.filter((t) => t.op === "input");
  const hostInts = new Set(
    inputs.filter((t) =>
      t.dtype === "int64" && t.rank === 0 && (consumers.get(t) ?? []).every((c) => c.op === "keep_mask")
    ),
  );
  const constAddr = new Map<Tensor, number>();
  const constViews: ArrayBufferView[] = []; // held so their blocks live as long as the program
  for (const t of order) {
    if (t.op !== "const") continue;
    const v = t.attrs.value as Float32Array | BigInt64Array;
    const view = device.store(v instanceof BigInt64Array ? Int32Array.from(v, (x) => Number(x)) : v);
    constViews.push(view);
    constAddr.set(t, view.byteOffset);
  }

  const shapeKey = (shapes: Map<string, readonly number[]>, resident: Map<Tensor, number>) =>
    [...shapes].map(([n, s]) => `${n}:${s}`).join(";") + "|" +
    [...resident].map(([t, a]) => `${t.id}@${a}`).join(";");
  const cache = new Map<string, Built>();

  function layoutFor(
    inputShapes: Map<string, readonly number[]>,
    resident: Map<Tensor, number>,
    stream: ReadonlySet<Tensor>,
    keep: ReadonlySet<Tensor>,
  ): { layout: MemoryLayout; env: ShapeEnv; shapes: Map<Tensor, number[]> } {
    const shapes = concreteShapes(order, inputShapes);
    const env: ShapeEnv = { k, shape: (t) => shapes.get(t)!, operand };
    const outside = new Set<Tensor>([...resident.keys(), ...constAddr.keys(), ...hostInts, ...folded]);
    const arenaInputs = inputs.filter((t) => !outside.has(t));
    const layout = planMemory({ steps, members, arenaInputs, reads: readsOf, keep, stream, outside, env });
    return { layout, env, shapes };
  }

  function build(
    inputShapes: Map<string, readonly number[]>,
    resident: Map<Tensor, number>,
    stream: ReadonlySet<Tensor>,
    keep: ReadonlySet<Tensor>,
  ): Built {
    const { layout, env, shapes } = layoutFor(inputShapes, resident, stream, keep);
    const host = new Map<Tensor, bigint>();
    const arenaBase = device.arena(layout.arenaBytes).offset;
    const addresses = new Map<Tensor, number>();
    const root = (t: Tensor): Tensor => {
      let x = t;
      while (LEAN_OPS[x.op]?.view !== undefined) x = x.inputs[LEAN_OPS[x.op].view!];
      return x;
    };
    const addr = (t: Tensor): number => {
      const r = root(t);
      const a = resident.get(r) ?? constAddr.get(r);
      if (a !== undefined) return a;
      const s = layout.storage.get(r);
      if (!s) throw new Error(`lean: ${t} has no address`);
      return arenaBase + s.offset;
    };
    const built: (() => void)[] = [];
    const computed = new Map<number, Tensor[]>();
    steps.forEach((t, i) => {
      const sc = layout.scratch.get(i), ms = members.get(t) ?? [t];
      const e: AddrEnv = {
        ...env,
        addr,
        aux: (n) => arenaBase + layout.aux.get(n)!.offset,
        scratch: sc ? arenaBase + sc.offset : 0,
        hostInt: (n) => host.get(n)!,
      };
      built.push(LEAN_OPS[t.op].build(t, e, ms));
    });
    for (const t of [...inputs, ...steps.flatMap((s) => members.get(s) ?? [s]), ...outputTensors]) {
      if (layout.storage.has(root(t)) || resident.has(root(t)) || constAddr.has(root(t))) {
        addresses.set(t, addr(t));
      }
    }
    // a streamed output is handed out right after the step that computes its data (views: their root's)
    const stepOf = new Map<Tensor, number>();
    steps.forEach((t, i) => (members.get(t) ?? [t]).forEach((m) => stepOf.set(m, i)));
    for (const t of stream) {
      const i = stepOf.get(root(t));
      if (i !== undefined) (computed.get(i) ?? computed.set(i, []).get(i)!).push(t);
    }
    return { layout, shapes, host, steps: built, computed, arenaBase, addresses };
  }

  const outputNames = Object.keys(outs);
  const program: LeanProgram = {
    backend: "lean",
    device,
    nodes: order.length,
    inputNames: inputs.map((t) => t.inputName!),
    outputNames,
    run(feeds: Record<string, HostTensor>, names?: readonly string[], runOpts: RunOptions = {}) {
      return Promise.resolve(runSync(feeds, names, runOpts));
    },
    plan(shapes = {}, residentNames, planOpts = {}) {
      const inputShapes = new Map<string, readonly number[]>();
      for (const t of inputs) {
        const s = shapes[t.inputName!] ??
          t.shape.map((d) => (typeof d === "number" ? d : opts.dims?.[d])) as number[];
        if (s.some((d) => d === undefined)) {
          throw new Error(
            `plan: give the shape of input ${t.inputName} [${t.shape}] (or dims for its symbols)`,
          );
        }
        inputShapes.set(t.inputName!, s);
      }
      const resident = new Map<Tensor, number>();
      for (const t of inputs) {
        const isStatic = t.shape.every((d) => typeof d === "number") &&
          (isFloat(t.dtype) || t.dtype === "uint8");
        if (residentNames ? residentNames.has(t.inputName!) : isStatic) resident.set(t, 0);
      }
      const streamed = (n: string) => planOpts.stream?.(n) ?? false;
      const keep = new Set(outputNames.filter((n) => !streamed(n)).map((n) => outs[n]));
      const stream = new Set(outputNames.filter(streamed).map((n) => outs[n]));
      const { layout } = layoutFor(inputShapes, resident, stream, keep);
      return {
        exact: true,
        arenaBytes: layout.arenaBytes,
        inputBytes: layout.inputBytes,
        outputBytes: layout.outputBytes,
      };
    },
    release() {
      constViews.length = 0;
      cache.clear();
      return Promise.resolve();
    },
  };

  function runSync(
    feeds: Record<string, HostTensor>,
    names: readonly string[] | undefined,
    runOpts: RunOptions,
  ): Record<string, HostTensor> {
    const want = names ?? outputNames;
    for (const n of want) if (!outs[n]) throw new Error(`lean: no output ${n}`);
    const streamed = (n: string) => !!runOpts.onOutput && (runOpts.stream?.(n) ?? true);
    const stream = new Set(want.filter(streamed).map((n) => outs[n]));
    const keep = new Set(want.filter((n) => !streamed(n)).map((n) => outs[n]));
    // inputs: shapes, residency (read offsets before the arena may grow the memory), host ints
    const inputShapes = new Map<string, readonly number[]>();
    const resident = new Map<Tensor, number>();
    const hostVals = new Map<Tensor, bigint>();
    for (const t of inputs) {
      const f = feeds[t.inputName!];
      if (!f) throw new Error(`missing graph input ${t.inputName}`);
      if (f.dtype !== t.dtype) {
        throw new Error(`input ${t.inputName}: dtype ${f.dtype}, the graph wants ${t.dtype}`);
      }
      inputShapes.set(t.inputName!, f.shape);
      if (hostInts.has(t)) hostVals.set(t, (f.data as BigInt64Array)[0]);
      else if (device.owns(f.data)) resident.set(t, f.data.byteOffset);
    }
    const key = shapeKey(inputShapes, resident) +
      `|${[...stream].map((t) => t.id)}|${[...keep].map((t) => t.id)}`;
    let b = cache.get(key);
    if (b && device.usage().arenaBytes < b.layout.arenaBytes) b = undefined;
    if (b && device.arena(b.layout.arenaBytes).offset !== b.arenaBase) b = undefined;
    if (!b) {
      b = build(inputShapes, resident, stream, keep);
      if (cache.size > 16) cache.delete(cache.keys().next().value!);
      cache.set(key, b);
    }
    for (const [t, v] of hostVals) b.host.set(t, v);
    for (const t of inputs) {
      if (resident.has(t) || hostInts.has(t)) continue;
      writeInput(device, b.addresses.get(t)!, feeds[t.inputName!]);
    }
    const out: Record<string, HostTensor> = {};
    const shapes = b.shapes;
    /** Hand out `t` under each requested name: streamed names now, kept names into the result. */
    const emit = (t: Tensor, streaming: boolean) => {
      for (const n of want) {
        if (outs[n] !== t || streamed(n) !== streaming) continue;
        const host = readOutput(device, b!.addresses.get(t)!, t, shapes.get(t)!, !streaming);
        if (streaming) runOpts.onOutput!(n, host);
        else out[n] = host;
      }
    };
    // streamed outputs whose data no step computes (inputs, constants) are ready before any step
    const inSteps = new Set([...b.computed.values()].flat());
    for (const t of stream) if (!inSteps.has(t)) emit(t, true);
    for (let i = 0; i < b.steps.length; i++) {
      if (profile) {
        const t0 = performance.now();
        b.steps[i]();
        profile.add(steps[i].op, performance.now() - t0);
      } else b.steps[i]();
      const c = b.computed.get(i);
      if (c) { for (const t of c) emit(t, true); }
    }
    for (const t of keep) emit(t, false);
    return out;
  }

  if (opts.dims) {
    try {
      device.arena(program.plan().arenaBytes);
    } catch { /* shapes not fully given by dims: the arena is sized at the first run */ }
  }
  return program;
}

/** Copy a fed host tensor into device memory at `addr` (int64 → i32, bool → u8). */
function writeInput(device: LeanDevice, addr: number, f: HostTensor): void {
  const n = numelOf(f.shape);
  if (f.dtype === "float32") device.f32(addr, n).set(f.data as Float32Array);
  else if (f.dtype === "int64") {
    const src = f.data as BigInt64Array, dst = device.i32(addr, n);
    for (let i = 0; i < n; i++) {
      const v = src[i];
      if (v > 2147483647n || v < -2147483648n) throw new Error(`lean: int64 input value ${v} exceeds int32`);
      dst[i] = Number(v);
    }
  } else if (f.dtype === "int32") device.i32(addr, n).set(f.data as Int32Array);
  else if (f.dtype === "bool" || f.dtype === "uint8") {
    const src = f.data as Uint8Array, dst = device.u8(addr, n);
    for (let i = 0; i < n; i++) dst[i] = src[i] ? (f.dtype === "bool" ? 1 : src[i]) : 0;
  } else throw new Error(`lean: input dtype ${f.dtype} is not supported`);
}

/** Read an output at `addr`: a copy, or (f32, when `copy` is false) a view valid until the next step. */
function readOutput(device: LeanDevice, addr: number, t: Tensor, shape: number[], copy: boolean): HostTensor {
  const n = numelOf(shape);
  let data: TensorData;
  if (t.dtype === "float32") data = copy ? device.f32(addr, n).slice() : device.f32(addr, n);
  else if (t.dtype === "int64") data = BigInt64Array.from(device.i32(addr, n), (x) => BigInt(x));
  else if (t.dtype === "int32") data = device.i32(addr, n).slice();
  else data = device.u8(addr, n).slice();
  return { dtype: t.dtype, shape, data };
}
