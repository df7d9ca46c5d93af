/**
 * @module One tokenized row, the unit every trainer, loss and selector consumes; its own module so
 * that they need not import the tokenizer that makes it.
 */

/** One tokenized row. */
export interface Example {
  /** All tokens of the row. */
  inputIds: Int32Array;
  /** Same length; labels[t] = target token for position t (already shifted), -100 = no loss. */
  labels: Int32Array;
  /** 1-based line number in the source JSONL (from `rowOrigin`), else the 1-based index in the rows. */
  row: number;
}
