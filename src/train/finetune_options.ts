/**
 * @module The fine-tuning methods of the contract and the options of a fine-tune.
 */

/** Fine-tuning methods of the contract. */
export const FINETUNE_METHODS = ["full", "lora", "galore", "qgalore", "dct"] as const;

/** Fine-tuning methods whose engine is built. */
export const BUILT_FINETUNE_METHODS: readonly string[] = ["full", "lora", "galore", "qgalore", "dct"];

/** A fine-tuning method of the contract. */
export type FinetuneMethod = typeof FINETUNE_METHODS[number];
