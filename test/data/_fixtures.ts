/**
 * Test fixture: a tiny hand-written GPT-2-style byte-level BPE tokenizer (HF `tokenizer.json` format).
 * Ids 0..255 are the 256 byte-level characters in byte order, then a few merges, then the special tokens.
 * @module
 */

/** GPT-2's bytes_to_unicode: byte value → printable character used in the vocab. */
export function byteChars(): string[] {
  const out: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return out;
}

/** Merges of the tiny tokenizer, in rank order ("Ġ" is the byte-level space). */
export const TINY_MERGES = ["Ġ t", "h e", "Ġt he", "l l", "ll o", "Ġ w"];
/** Id of `<|endoftext|>` (EOS, and BOS for the GPT-2 flavour). */
export const TINY_EOS = 256 + TINY_MERGES.length;
/** Id of `<s>` (only meaningful with `addBos: true`). */
export const TINY_BOS = TINY_EOS + 1;
/** Vocabulary size of the tiny tokenizer. */
export const TINY_VOCAB = TINY_BOS + 1;

/**
 * Writes `tokenizer.json` and `tokenizer_config.json` of the tiny tokenizer into `dir` (created if needed).
 * Default: GPT-2 flavour (no special tokens added by encode; `<|endoftext|>` is BOS and EOS).
 * `addBos: true`: LLaMA flavour, `<s>` is BOS and encode prepends it (TemplateProcessing).
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await writeTinyTokenizer(dir);
 * const tok = await loadTokenizer(dir);
 * ```
 */
export async function writeTinyTokenizer(dir: string, opts: { addBos?: boolean } = {}): Promise<void> {
  const vocab: Record<string, number> = {};
  byteChars().forEach((c, i) => vocab[c] = i);
  TINY_MERGES.forEach((m, i) => vocab[m.replace(" ", "")] = 256 + i);
  vocab["<|endoftext|>"] = TINY_EOS;
  vocab["<s>"] = TINY_BOS;
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(TINY_EOS, "<|endoftext|>"), special(TINY_BOS, "<s>")],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: opts.addBos
      ? {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
        pair: [
          { SpecialToken: { id: "<s>", type_id: 0 } },
          { Sequence: { id: "A", type_id: 0 } },
          { SpecialToken: { id: "<s>", type_id: 1 } },
          { Sequence: { id: "B", type_id: 1 } },
        ],
        special_tokens: { "<s>": { id: "<s>", ids: [TINY_BOS], tokens: ["<s>"] } },
      }
      : { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: TINY_MERGES,
    },
  };
  const config = {
    tokenizer_class: opts.addBos ? "PreTrainedTokenizerFast" : "GPT2Tokenizer",
    bos_token: opts.addBos ? "<s>" : "<|endoftext|>",
    eos_token: "<|endoftext|>",
    unk_token: "<|endoftext|>",
    model_max_length: 64,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
  };
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(tokenizer, null, 2));
  await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify(config, null, 2));
}
