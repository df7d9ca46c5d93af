/**
 * @module The CLI's progress on stderr: on a terminal, one bar redrawn in place (steps done, loss,
 * learning rate, gradient norm, tokens/s, ETA) with log lines printed above it; elsewhere (a pipe,
 * a file, CI) plain lines, one per step, as before. Stdout is never touched: its last line stays the
 * command's JSON.
 */

/** One step's figures (whatever the command knows). */
export interface StepFigures {
  step: number;
  loss?: number;
  lr?: number;
  gradNorm?: number;
  tokensPerS?: number;
  /** Seconds left; estimated from the pace so far when not given. */
  etaS?: number;
  /** Extra labelled figures, e.g. `{ forget: 1.23 }`. */
  extra?: Record<string, number>;
}

const enc = new TextEncoder();
const WIDTH = 24;

function fmtEta(s: number): string {
  if (!Number.isFinite(s)) return "–";
  s = Math.max(0, Math.round(s));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/** Terminal width (stderr's, else stdout's), 120 when unknown. */
function columns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 120;
  }
}

/** The figures of a step as text (shared by the bar and the plain lines). */
function figures(f: StepFigures): string {
  const parts: string[] = [];
  if (f.loss !== undefined) parts.push(`loss ${f.loss.toFixed(4)}`);
  for (const [k, v] of Object.entries(f.extra ?? {})) parts.push(`${k} ${v.toFixed(4)}`);
  if (f.lr !== undefined) parts.push(`lr ${f.lr.toExponential(2)}`);
  if (f.gradNorm !== undefined) parts.push(`|g| ${f.gradNorm.toFixed(3)}`);
  if (f.tokensPerS !== undefined) parts.push(`${Math.round(f.tokensPerS)} tok/s`);
  return parts.join(" ");
}

/**
 * Progress of a run of `steps` steps on stderr: a bar on a terminal, plain lines elsewhere.
 *
 * @example
 * ```ts
 * const p = new Progress(40, { tty: false, write: () => {} });
 * p.step({ step: 1, loss: 2.5, lr: 1e-3, tokensPerS: 400, etaS: 39 });
 * p.done();
 * ```
 */
export class Progress {
  readonly tty: boolean;
  #write: (s: string) => void;
  #t0 = performance.now();
  #first?: { step: number; t: number };
  #drawn = "";
  #lastDraw = 0;

  constructor(
    readonly steps: number,
    opts: { tty?: boolean; write?: (s: string) => void } = {},
  ) {
    this.tty = opts.tty ?? (Deno.stderr.isTerminal() && !Deno.env.get("CI"));
    // plain lines go through console.error, as every other stderr line of the CLI
    this.#write = opts.write ??
      (this.tty ? (s) => Deno.stderr.writeSync(enc.encode(s)) : (s) => console.error(s.replace(/\n$/, "")));
  }

  /** A log line: above the bar on a terminal, as it is elsewhere. */
  log(msg: string): void {
    if (!this.tty) return this.#write(msg + "\n");
    this.#write(`\r\x1b[2K${msg}\n${this.#drawn}`);
  }

  /** Report a step. */
  step(f: StepFigures): void {
    const now = performance.now();
    this.#first ??= { step: f.step - 1, t: this.#t0 };
    const pace = (now - this.#first.t) / 1000 / Math.max(1, f.step - this.#first.step);
    const eta = f.etaS ?? pace * (this.steps - f.step);
    if (!this.tty) {
      this.#write(`step ${f.step}/${this.steps} ${figures(f)} ETA ${Math.round(eta)} s\n`.replace("  ", " "));
      return;
    }
    if (f.step < this.steps && now - this.#lastDraw < 80) return; // at most ~12 redraws a second
    this.#lastDraw = now;
    const done = Math.round((WIDTH * Math.min(f.step, this.steps)) / Math.max(1, this.steps));
    const bar = "█".repeat(done) + "░".repeat(WIDTH - done);
    const pct = ((100 * f.step) / Math.max(1, this.steps)).toFixed(0).padStart(3);
    const cols = columns();
    const line = `${bar} ${pct}% ${f.step}/${this.steps} ${figures(f)} ETA ${fmtEta(eta)}`.slice(0, cols - 1);
    this.#drawn = line;
    this.#write(`\r\x1b[2K${line}`);
  }

  /** End the bar (a newline after it on a terminal). */
  done(): void {
    if (this.tty && this.#drawn) this.#write("\n");
    this.#drawn = "";
  }
}
