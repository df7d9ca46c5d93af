/**
 * @module Where the heavy work of the service runs: job chunks, the submit-time checks that
 * tokenize rows, and generation. {@link Executor} is the seam; {@link InlineExecutor} runs the work
 * in the calling isolate (edge runtimes without Workers: workerd, a Durable Object), and
 * `executor_worker.ts` runs the same code on Deno Workers so the HTTP event loop only answers
 * requests. An executor keeps each job's state warm between chunks until {@link Executor.release}.
 */
import type { Backend } from "../runtime/backend.ts";
import { generateWith, promptIds } from "../api.ts";
import { PosttrainError } from "../errors.ts";
import type { JobRequest } from "./spec.ts";
import type { JobProgress, JobRecord } from "./store.ts";
import type { ArtifactStore } from "./artifacts.ts";
import type { ModelRegistry } from "./models.ts";
import { checkRows } from "./submit.ts";
import { oneShotChunk } from "./work_oneshot.ts";
import {
  type ChunkResult,
  evalChunk,
  finetuneChunk,
  loadWork,
  releaseWork,
  type StoredRequest,
  type Work,
} from "./work.ts";

/** A validated `POST /v1/generate` body (`GenerateRequestSchema`'s output). */
export interface GenerateRequest {
  model: string;
  adapter?: string;
  /** Text to continue (or `messages`). */
  prompt?: string;
  /** A conversation, rendered with the model's chat template. */
  messages?: { role: string; content: string; [k: string]: unknown }[];
  /** Tools (function schemas) for the chat template. */
  tools?: Record<string, unknown>[];
  max_new_tokens: number;
  temperature: number;
  top_k: number;
  top_p: number;
  seed: number;
  backend?: Backend;
}

/** A validated job request (`JobRequestSchema`'s output; the executor checks its rows). */
export type AcceptedRequest =
  & { readonly type: "finetune" | "eval" | "unlearn" | "coreset"; readonly model: string }
  & Record<string, unknown>;

/** What a request resolved to: the model dir and the LoRA adapter dirs merged into it. */
export interface ModelRefs {
  modelDir: string;
  adapters: string[];
}

/** Options of one {@link Executor.chunk} call. */
export interface ChunkCall {
  /**
   * Aborted with reason "cancel" (stop, nothing kept), "shutdown" (checkpoint, resume later) or "lost"
   * (another instance took the job: stop, write nothing).
   */
  signal?: AbortSignal;
  /** Progress of the running chunk, as it happens. */
  onProgress?: (p: Partial<JobProgress>) => void;
}

/** Runs job chunks, submit-time row checks and generation. */
export interface Executor {
  /** Run the next chunk of a running job (loading its state on first use). */
  chunk(job: JobRecord, call?: ChunkCall): Promise<ChunkResult>;
  /** Free the state kept warm for a job (its checkpoints stay). */
  release(id: string): Promise<void>;
  /**
   * The submit-time row checks (`submit.ts` `checkRows`), then store the request as job `id`'s
   * (its rows can be megabytes: serializing them is work too); returns the job's step count.
   */
  accept(id: string, req: AcceptedRequest, refs: ModelRefs): Promise<number>;
  /** Continue a prompt. */
  generate(req: GenerateRequest, refs: ModelRefs, backend: Backend): Promise<{ text: string }>;
  /** Free everything; the executor is unusable afterwards. */
  close(): Promise<void>;
}

/** Options of {@link InlineExecutor}. */
export interface InlineExecutorOptions {
  files: ArtifactStore;
  models: ModelRegistry;
  /** Optimizer steps (eval: batches) per chunk. */
  chunkSteps: number;
  /** Backend of jobs that name none. */
  defaultBackend: Backend;
}

/**
 * Continue a prompt with a cached generator of the registry; 422 when the prompt and the new
 * tokens exceed the model's context.
 */
export async function generateText(
  models: ModelRegistry,
  r: GenerateRequest,
  refs: ModelRefs,
  backend: Backend,
): Promise<{ text: string }> {
  return await models.withGenerator(refs.modelDir, refs.adapters, backend, async (e) => {
    const limit = e.model.config.maxPositions;
    const n = promptIds(e.tok, r).length;
    if (n + r.max_new_tokens > limit) {
      throw new PosttrainError(
        "invalid_request",
        `max_new_tokens: prompt (${n} tokens) + max_new_tokens (${r.max_new_tokens}) exceeds the model's context (${limit})`,
        "max_new_tokens",
      );
    }
    return await generateWith(e.model, e.tok, e.gen, {
      prompt: r.prompt,
      messages: r.messages,
      tools: r.tools,
      maxNewTokens: r.max_new_tokens,
      temperature: r.temperature,
      topK: r.top_k,
      topP: r.top_p,
      seed: r.seed,
    });
  });
}

/**
 * The work in this isolate (between steps it yields to the event loop, but a step itself blocks it).
 *
 * @example
 * ```ts ignore
 * const exec = new InlineExecutor({ files, models, chunkSteps: 20, defaultBackend: "wasm" });
 * const { outcome, patch } = await exec.chunk(job, { onProgress: (p) => console.log(p.step) });
 * ```
 */
export class InlineExecutor implements Executor {
  #live = new Map<string, Work>();

  constructor(readonly opts: InlineExecutorOptions) {}

  async chunk(job: JobRecord, call: ChunkCall = {}): Promise<ChunkResult> {
    const { files, models, chunkSteps, defaultBackend } = this.opts;
    const ctx = { files, models, chunkSteps, report: call.onProgress ?? (() => {}) };
    let work = this.#live.get(job.id);
    if (!work) this.#live.set(job.id, work = await loadWork(ctx, job, defaultBackend));
    return work.kind === "finetune"
      ? await finetuneChunk(ctx, job, work, call.signal)
      : work.kind === "eval"
      ? await evalChunk(ctx, job, work, call.signal)
      : await oneShotChunk(ctx, job, work, call.signal);
  }

  async release(id: string): Promise<void> {
    const work = this.#live.get(id);
    this.#live.delete(id);
    if (work) await releaseWork(work);
  }

  async accept(id: string, req: AcceptedRequest, refs: ModelRefs): Promise<number> {
    const request = req as unknown as JobRequest; // validated by the caller
    const steps = await checkRows(request, this.opts.models, refs.modelDir);
    const stored: StoredRequest = { request, ...refs };
    await this.opts.files.writeRequest(id, stored);
    return steps;
  }

  async generate(req: GenerateRequest, refs: ModelRefs, backend: Backend): Promise<{ text: string }> {
    return await generateText(this.opts.models, req, refs, backend);
  }

  async close(): Promise<void> {
    for (const id of [...this.#live.keys()]) await this.release(id);
    this.opts.models.close();
  }
}
