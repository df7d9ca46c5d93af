/**
 * @module The static memory plan of a lean program: every intermediate gets an offset in one arena
 * from the schedule and the tensors' lifetimes (first step that writes, last step that reads). Views
 * share their input's storage; an elementwise op may take over an input that dies at that step (in
 * place); side buffers live as long as their node; scratch lives for one step. Offsets are assigned
 * greedily, largest first, at the lowest address free for the whole lifetime (the TFLite / "greedy by
 * size" strategy of Pisarchyk & Lee 2020, arXiv:2001.03288). The arena size is known before the first
 * step and is the same for every run of the same shapes.
 */
import type { Tensor } from "../../graph/ir.ts";
import { elemBytes, LEAN_OPS, numelOf, type ShapeEnv } from "./op.ts";

const ALIGN = 64;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** One block of arena memory and the steps it is alive for (inclusive). */
export interface Storage {
  bytes: number;
  first: number;
  last: number;
  /** Byte offset in the arena, set by {@link assignOffsets}. */
  offset: number;
}

/** Where every tensor of a program lives for one set of input shapes. */
export interface MemoryLayout {
  /** Tensor → its arena storage (absent: resident, host-side, or folded into a consumer). */
  storage: Map<Tensor, Storage>;
  /** Node → its side buffer. */
  aux: Map<Tensor, Storage>;
  /** Step index → its scratch. */
  scratch: Map<number, Storage>;
  /** Arena bytes (all storages placed). */
  arenaBytes: number;
  /** Bytes of the arena holding fed inputs (part of arenaBytes). */
  inputBytes: number;
  /** Bytes of the requested outputs that stay until the end (part of arenaBytes). */
  outputBytes: number;
}

/** What the planner needs to know of a program. */
export interface PlanInput {
  /** Executed nodes in order (group leaders stand for their group). */
  steps: readonly Tensor[];
  /** Group leader → its members (the leader included), for grouped steps. */
  members: ReadonlyMap<Tensor, readonly Tensor[]>;
  /** Graph inputs copied into the arena each run (the rest are resident or host-side). */
  arenaInputs: readonly Tensor[];
  /** The tensors each step reads (after folding transposes and quantized weights into matmuls). */
  reads(step: Tensor): readonly Tensor[];
  /** Outputs returned at the end of the run (alive until then). */
  keep: ReadonlySet<Tensor>;
  /** Outputs handed out as soon as they are computed (alive until then). */
  stream: ReadonlySet<Tensor>;
  /** Nodes that live outside the arena (resident weights, constants, folded nodes). */
  outside: ReadonlySet<Tensor>;
  env: ShapeEnv;
}

/**
 * Plan the arena for one set of shapes.
 *
 * @example
 * ```ts ignore
 * const layout = planMemory({ steps, members, arenaInputs, reads, keep, stream, outside, env });
 * layout.arenaBytes; // the arena this program needs for these shapes
 * ```
 */
export function planMemory(p: PlanInput): MemoryLayout {
  const { env } = p;
  const bytesOf = (t: Tensor) => align(numelOf(env.shape(t)) * elemBytes(t.dtype));
  const storage = new Map<Tensor, Storage>();
  const scratchAt = new Map<number, Storage>();
  /** Storages of outputs: never taken over in place. */
  const pinned = new Set<Storage>();
  const all: Storage[] = [];
  const fresh = (bytes: number, first: number, last: number): Storage => {
    const s = { bytes, first, last, offset: -1 };
    all.push(s);
    return s;
  };
  /** The tensor whose storage t uses (views resolve to their input). */
  const root = (t: Tensor): Tensor => {
    let x = t;
    while (LEAN_OPS[x.op]?.view !== undefined) x = x.inputs[LEAN_OPS[x.op].view!];
    return x;
  };
  // last read of every storage root; kept outputs are read at the end
  const end = p.steps.length;
  const lastRead = new Map<Tensor, number>();
  p.steps.forEach((t, i) => {
    for (const x of p.reads(t)) lastRead.set(root(x), i);
  });
  for (const t of p.keep) lastRead.set(root(t), end);

  let inputBytes = 0;
  for (const t of p.arenaInputs) {
    const s = fresh(bytesOf(t), 0, lastRead.get(t) ?? 0);
    storage.set(t, s);
    inputBytes += s.bytes;
    if (p.keep.has(t) || p.stream.has(t)) pinned.add(s);
  }
  p.steps.forEach((t, i) => {
    const op = LEAN_OPS[t.op];
    const members = p.members.get(t) ?? [t];
    for (const m of members) {
      if (p.outside.has(m)) continue;
      const last = Math.max(i, lastRead.get(m) ?? i);
      let s: Storage | undefined;
      for (const k of op.inPlace?.(m, env) ?? []) {
        const r = root(m.inputs[k]), sx = storage.get(r);
        if (!sx || p.outside.has(r) || sx.last !== i || sx.bytes !== bytesOf(m) || pinned.has(sx)) continue;
        s = sx;
        s.last = last;
        break;
      }
      s ??= fresh(bytesOf(m), i, last);
      storage.set(m, s);
      if (p.keep.has(m) || p.stream.has(m)) pinned.add(s);
    }
    const scratch = op.scratch?.(t, env, members) ?? 0;
    if (scratch > 0) scratchAt.set(i, fresh(align(scratch), i, i));
  });
  let outputBytes = 0;
  for (const t of p.keep) outputBytes += storage.get(root(t))?.bytes ?? 0;
  const storeOf = (t: Tensor) => storage.get(root(t));
  // side buffers share their node's lifetime
  const aux = new Map<Tensor, Storage>();
  p.steps.forEach((t, i) => {
    const bytes = LEAN_OPS[t.op].aux?.(t, env) ?? 0;
    if (bytes === 0) return;
    const s = storeOf(t)!;
    aux.set(t, fresh(align(bytes), i, s.last));
  });
  const arenaBytes = assignOffsets(all);
  return { storage, aux, scratch: scratchAt, arenaBytes, inputBytes, outputBytes };
}

/**
 * Greedy by size: largest storages first, each at the lowest offset not overlapping any placed storage
 * whose lifetime intersects its own. Returns the arena size.
 *
 * @example
 * ```ts
 * const a = { bytes: 64, first: 0, last: 1, offset: -1 }, b = { bytes: 64, first: 2, last: 3, offset: -1 };
 * assignOffsets([a, b]); // 64: b reuses a's bytes
 * ```
 */
export function assignOffsets(all: Storage[]): number {
  const order = [...new Set(all)].sort((x, y) => y.bytes - x.bytes || x.first - y.first);
  const placed: Storage[] = [];
  let size = 0;
  for (const s of order) {
    const busy = placed
      .filter((o) => o.first <= s.last && s.first <= o.last)
      .sort((x, y) => x.offset - y.offset);
    let at = 0;
    for (const o of busy) {
      if (at + s.bytes <= o.offset) break;
      at = Math.max(at, o.offset + o.bytes);
    }
    s.offset = at;
    placed.push(s);
    size = Math.max(size, at + s.bytes);
  }
  return size;
}
