/**
 * Byte-level BPE: a deterministic trainer that writes the Hugging Face `tokenizers` format (tokenizer.json +
 * tokenizer_config.json, loadable by transformers.js and HF), and a pure-TS encoder that gives the same ids.
 *
 * Vocabulary layout: ids 0..255 are the 256 byte-level characters in byte order (id = byte value), then the
 * special tokens (`<|endoftext|>` = 256 by default), then one id per merge in merge order. Two merges can
 * spell the same string (e.g. "ab"+"c" and "a"+"bc"): the second reuses the first's id, as HF's trainer does.
 * Training splits texts on the special tokens (specials never take part in merges), pre-tokenizes with the
 * GPT-2 regex, maps bytes to GPT-2's printable characters, counts words, then repeatedly merges the most
 * frequent adjacent pair (ties: lexicographically smallest (left, right) strings) with a lazy max-heap and
 * per-merge updates of only the words that contain the pair.
 * @module
 */

/** GPT-2 pre-tokenization regex (the ByteLevel pre-tokenizer with `use_regex: true`). */
const PAT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
/** Pair key: left id × 2^21 + right id (exact in a double for ids below 2^21). */
const SHIFT = 2 ** 21;

/** GPT-2's bytes_to_unicode: byte value → printable character used in the vocab. */
export const BYTE_CHARS: readonly string[] = (() => {
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out.push(String.fromCharCode(printable ? b : 256 + n++));
  }
  return out;
})();

/** Options of {@link trainBpe}. */
export interface BpeOptions {
  /** Target vocabulary size, bytes and specials included (fewer when no pair reaches minFrequency). */
  vocabSize: number;
  /** Special tokens, ids 256.. in this order; the first is BOS/EOS/PAD/UNK. Default ["<|endoftext|>"]. */
  specialTokens?: string[];
  /** Stop when the best pair occurs fewer times. Default 2. */
  minFrequency?: number;
  /** `model_max_length` of tokenizer_config.json. Default 1024. */
  modelMaxLength?: number;
}

/** An entry of `added_tokens`. */
export interface AddedToken {
  id: number;
  content: string;
  single_word: false;
  lstrip: false;
  rstrip: false;
  normalized: false;
  special: true;
}
type ByteLevelJson = { type: "ByteLevel"; add_prefix_space: boolean; trim_offsets: boolean; use_regex: true };

/** HF `tokenizer.json` of a trained byte-level BPE tokenizer. */
export interface TokenizerJson {
  version: "1.0";
  truncation: null;
  padding: null;
  added_tokens: AddedToken[];
  normalizer: null;
  pre_tokenizer: ByteLevelJson;
  post_processor: ByteLevelJson;
  decoder: ByteLevelJson;
  model: {
    type: "BPE";
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: false;
    byte_fallback: false;
    ignore_merges: false;
    vocab: Record<string, number>;
    merges: [string, string][];
  };
}

/** Trainer output: the contents of tokenizer.json and tokenizer_config.json. */
export interface TrainedBpe {
  tokenizerJson: TokenizerJson;
  tokenizerConfig: Record<string, unknown>;
}

/** Minimal binary max-heap over [count, left, right] entries with a caller-supplied order. */
class Heap<T> {
  private a: T[] = [];
  constructor(private before: (x: T, y: T) => boolean) {}
  get size(): number {
    return this.a.length;
  }
  push(x: T): void {
    const a = this.a;
    let i = a.push(x) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      for (let i = 0;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && this.before(a[l], a[m])) m = l;
        if (r < a.length && this.before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

/** Splits text into plain sections and special tokens (leftmost, then longest match, like transformers.js). */
function splitSpecials(text: string, specials: string[]): { text: string; special: boolean }[] {
  const out: { text: string; special: boolean }[] = [];
  let start = 0;
  for (;;) {
    let at = -1, hit = "";
    for (const s of specials) {
      const i = text.indexOf(s, start);
      if (i >= 0 && (at < 0 || i < at || (i === at && s.length > hit.length))) [at, hit] = [i, s];
    }
    if (at < 0) break;
    if (at > start) out.push({ text: text.slice(start, at), special: false });
    out.push({ text: hit, special: true });
    start = at + hit.length;
  }
  if (start < text.length) out.push({ text: text.slice(start), special: false });
  return out;
}

const utf8 = new TextEncoder();
/** Byte values of a pre-token. */
const bytesOf = (word: string): Uint8Array => utf8.encode(word);

/**
 * Trains a byte-level BPE tokenizer (deterministic: same texts and options → byte-identical JSON).
 *
 * @example
 * ```ts
 * const trained = trainBpe(["the cat sat on the mat", "the dog"], { vocabSize: 300 });
 * trained.tokenizerJson.model.merges[0]; // ["a", "t"]: most frequent pair, ties lexicographic
 * encodeBpe(trained, "the cat<|endoftext|>").at(-1); // 256
 * ```
 */
export function trainBpe(texts: string[], opts: BpeOptions): TrainedBpe {
  const { vocabSize, specialTokens = ["<|endoftext|>"], modelMaxLength = 1024 } = opts;
  const minFrequency = Math.max(1, opts.minFrequency ?? 2);
  if (specialTokens.length === 0) throw new Error("trainBpe needs at least one special token (the EOS)");
  if (new Set(specialTokens).size !== specialTokens.length || specialTokens.includes("")) {
    throw new Error("special tokens must be distinct and non-empty");
  }
  if (!Number.isInteger(vocabSize) || vocabSize < 256 + specialTokens.length || vocabSize >= SHIFT) {
    throw new Error(`vocabSize must be an integer in [${256 + specialTokens.length}, ${SHIFT})`);
  }
  // 1. Word counts (raw pre-tokens first: far fewer distinct strings than occurrences).
  const raw = new Map<string, number>();
  for (const text of texts) {
    for (const sec of splitSpecials(text, specialTokens)) {
      if (sec.special) continue;
      for (const m of sec.text.matchAll(PAT)) raw.set(m[0], (raw.get(m[0]) ?? 0) + 1);
    }
  }
  const tokStr: string[] = [...BYTE_CHARS, ...specialTokens];
  const strToId = new Map(tokStr.map((s, i) => [s, i]));
  const words: number[][] = [];
  const counts: number[] = [];
  for (const [w, c] of raw) {
    words.push(Array.from(bytesOf(w)));
    counts.push(c);
  }
  // 2. Initial pair counts and where each pair occurs.
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: number, delta: Map<number, number>) => {
    const w = words[wi];
    for (let i = 0; i + 1 < w.length; i++) {
      const k = w[i] * SHIFT + w[i + 1];
      delta.set(k, (delta.get(k) ?? 0) + sign * counts[wi]);
      if (sign > 0) {
        let s = pairWords.get(k);
        if (!s) pairWords.set(k, s = new Set());
        s.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1, pairCount);
  type Entry = [count: number, left: number, right: number];
  const heap = new Heap<Entry>((x, y) => {
    if (x[0] !== y[0]) return x[0] > y[0];
    const lx = tokStr[x[1]], ly = tokStr[y[1]];
    if (lx !== ly) return lx < ly;
    return tokStr[x[2]] < tokStr[y[2]];
  });
  for (const [k, c] of pairCount) if (c >= minFrequency) heap.push([c, Math.floor(k / SHIFT), k % SHIFT]);
  // 3. Merge loop.
  const merges: [number, number][] = [];
  while (strToId.size < vocabSize && heap.size > 0) {
    const [c, a, b] = heap.pop()!;
    const key = a * SHIFT + b;
    const cur = pairCount.get(key) ?? 0;
    if (cur !== c) {
      if (cur >= minFrequency) heap.push([cur, a, b]);
      continue;
    }
    const s = tokStr[a] + tokStr[b];
    let id = strToId.get(s);
    if (id === undefined) {
      id = tokStr.push(s) - 1;
      strToId.set(s, id);
    }
    merges.push([a, b]);
    const delta = new Map<number, number>();
    for (const wi of pairWords.get(key) ?? []) {
      const w = words[wi];
      let hit = false;
      for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) hit = true;
      if (!hit) continue;
      addPairs(wi, -1, delta);
      const nw: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          nw.push(id);
          i++;
        } else nw.push(w[i]);
      }
      words[wi] = nw;
      addPairs(wi, 1, delta);
    }
    pairWords.delete(key);
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const n = (pairCount.get(k) ?? 0) + d;
      if (n <= 0) pairCount.delete(k);
      else pairCount.set(k, n);
      if (d > 0 && n >= minFrequency) heap.push([n, Math.floor(k / SHIFT), k % SHIFT]);
    }
  }
  return assemble(tokStr, specialTokens, merges, modelMaxLength);
}

/** Builds the two JSON objects from the trained vocabulary. */
function assemble(
  tokStr: string[],
  specials: string[],
  merges: [number, number][],
  maxLen: number,
): TrainedBpe {
  const vocab: Record<string, number> = {};
  tokStr.forEach((s, i) => vocab[s] = i);
  const added: AddedToken[] = specials.map((content, i) => ({
    id: 256 + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const bl = (add_prefix_space: boolean, trim_offsets: boolean): ByteLevelJson => ({
    type: "ByteLevel",
    add_prefix_space,
    trim_offsets,
    use_regex: true,
  });
  const tokenizerJson: TokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: bl(false, true),
    post_processor: bl(false, false),
    decoder: bl(false, true),
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => [tokStr[a], tokStr[b]]),
    },
  };
  const eos = specials[0];
  const tokenizerConfig = {
    tokenizer_class: "PreTrainedTokenizerFast",
    bos_token: eos,
    eos_token: eos,
    pad_token: eos,
    unk_token: eos,
    model_max_length: maxLen,
    add_bos_token: false,
    add_eos_token: false,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    added_tokens_decoder: Object.fromEntries(added.map(({ id, ...rest }) => [String(id), rest])),
    chat_template: "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}" + eos + "\n{% endfor %}" +
      "{% if add_generation_prompt %}<|assistant|>\n{% endif %}",
  };
  return { tokenizerJson, tokenizerConfig };
}

/** Encoder state derived once per tokenizer.json. */
interface Encoder {
  ranks: Map<number, number>;
  merged: Map<number, number>;
  specials: string[];
  specialIds: Map<string, number>;
  cache: Map<string, number[]>;
}
const encoders = new WeakMap<TokenizerJson, Encoder>();

function encoderFor(tj: TokenizerJson): Encoder {
  let enc = encoders.get(tj);
  if (enc) return enc;
  const { vocab, merges } = tj.model;
  BYTE_CHARS.forEach((c, i) => {
    if (vocab[c] !== i) throw new Error("encodeBpe expects byte-level characters at ids 0..255");
  });
  const ranks = new Map<number, number>(), merged = new Map<number, number>();
  merges.forEach(([l, r], i) => {
    const k = vocab[l] * SHIFT + vocab[r];
    ranks.set(k, i);
    merged.set(k, vocab[l + r]);
  });
  const specialIds = new Map(tj.added_tokens.map((t) => [t.content, t.id]));
  enc = { ranks, merged, specials: [...specialIds.keys()], specialIds, cache: new Map() };
  encoders.set(tj, enc);
  return enc;
}

/** BPE of one pre-token: repeatedly merge the lowest-rank adjacent pair, leftmost first. */
function bpeWord(enc: Encoder, word: string): number[] {
  const hit = enc.cache.get(word);
  if (hit) return hit;
  const w = Array.from(bytesOf(word));
  for (;;) {
    let best = -1, bestRank = Infinity;
    for (let i = 0; i + 1 < w.length; i++) {
      const r = enc.ranks.get(w[i] * SHIFT + w[i + 1]);
      if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
    }
    if (best < 0) break;
    w.splice(best, 2, enc.merged.get(w[best] * SHIFT + w[best + 1])!);
  }
  if (enc.cache.size < 100_000) enc.cache.set(word, w);
  return w;
}

/**
 * Encodes text with a tokenizer from {@link trainBpe}, exactly as transformers.js does (specials split out
 * first, GPT-2 regex, byte-level BPE by merge rank); no special tokens are added.
 *
 * @example
 * ```ts
 * const trained = trainBpe(corpus, { vocabSize: 4096 });
 * const ids = encodeBpe(trained, "Once upon a time<|endoftext|>");
 * ids.at(-1); // 256
 * ```
 */
export function encodeBpe(trained: TrainedBpe, text: string): number[] {
  const enc = encoderFor(trained.tokenizerJson);
  const out: number[] = [];
  for (const sec of splitSpecials(text, enc.specials)) {
    if (sec.special) out.push(enc.specialIds.get(sec.text)!);
    else for (const m of sec.text.matchAll(PAT)) out.push(...bpeWord(enc, m[0]));
  }
  return out;
}

/**
 * Writes tokenizer.json and tokenizer_config.json into `dir` (created if needed), each atomically (a temp file
 * in the same directory, then rename).
 *
 * @example
 * ```ts
 * await writeTokenizer("models/default", trainBpe(texts, { vocabSize: 4096 }));
 * const tok = await loadTokenizer("models/default");
 * ```
 */
export async function writeTokenizer(dir: string, trained: TrainedBpe): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const files: [string, unknown][] = [
    ["tokenizer.json", trained.tokenizerJson],
    ["tokenizer_config.json", trained.tokenizerConfig],
  ];
  for (const [name, obj] of files) {
    const tmp = `${dir}/.${name}.${crypto.randomUUID()}.tmp`;
    try {
      await Deno.writeTextFile(tmp, JSON.stringify(obj, null, 2) + "\n");
      await Deno.rename(tmp, `${dir}/${name}`);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
  }
}
