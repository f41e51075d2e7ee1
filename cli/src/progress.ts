import { createRequire } from 'node:module';
import { processEnv } from '@sloth/core/config';

/** Where a progress line is drawn: standard error, or a stand-in for it in tests. */
export interface ProgressStream {
  /** True only for a terminal: a pipe, a file or CI's log never gets a progress line. */
  readonly isTTY?: boolean;
  write(text: string): boolean;
}

export interface ProgressLineOptions {
  /** Start of the line, e.g. `sloth detect`. */
  label: string;
  /** What is counted, plural: `rows`, `steps`. */
  unit: string;
  /** Fewest milliseconds between two redraws. @defaultValue 250 (at most four a second) */
  minIntervalMillis?: number;
  /** Show the rate (`unit`/s). @defaultValue true */
  rate?: boolean;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
}

/**
 * One line of progress on a terminal (`label: done / total unit (pct) rate unit/s, note`), redrawn in place
 * at most every `minIntervalMillis` and erased by {@link finish}, so what a command prints after it (its
 * summary, warnings) reads as without it. Made by {@link progressLine}, which gives none off a terminal.
 */
export class ProgressLine {
  private readonly stream: ProgressStream;
  private readonly options: Required<ProgressLineOptions>;
  private readonly startedMillis: number;
  private drawnMillis = Number.NEGATIVE_INFINITY;
  private drawn = false;

  constructor(stream: ProgressStream, options: ProgressLineOptions) {
    this.stream = stream;
    this.options = { minIntervalMillis: 250, rate: true, now: Date.now, ...options };
    this.startedMillis = this.options.now();
  }

  /** Reports `done` of `total` (unknown: undefined); redraws when the last redraw is old enough. */
  update(done: number, total?: number, note?: string): void {
    const now = this.options.now();
    if (now - this.drawnMillis < this.options.minIntervalMillis) return;
    this.drawnMillis = now;
    const { label, unit } = this.options;
    const seconds = (now - this.startedMillis) / 1000;
    const count = total === undefined ? `${done.toLocaleString('en-US')} ${unit}` : `${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} ${unit} (${Math.min(100, Math.floor((100 * done) / Math.max(1, total)))} %)`;
    const rate = this.options.rate && seconds >= 1 ? `, ${Math.round(done / seconds).toLocaleString('en-US')} ${unit}/s` : '';
    // \r and "erase to the end of the line" redraw in place; a shorter line leaves nothing of a longer one.
    this.stream.write(`\r${label}: ${count}${rate}${note === undefined ? '' : `, ${note}`}\u001b[K`);
    this.drawn = true;
  }

  /** Erases the line (if one was drawn). */
  finish(): void {
    if (this.drawn) this.stream.write('\r\u001b[K');
    this.drawn = false;
  }
}

/**
 * A progress line on `stream` when `wanted` (the command's `--no-progress` was not given), `stream` is a
 * terminal and `CI` is not set, as `sloth report` decides; otherwise undefined, and nothing is written.
 */
export function progressLine(wanted: boolean, options: ProgressLineOptions, stream: ProgressStream = process.stderr, env: Readonly<Record<string, string | undefined>> = processEnv()): ProgressLine | undefined {
  return showsProgress(wanted, stream, env) ? new ProgressLine(stream, options) : undefined;
}

/** Whether a command shows progress: `wanted` (no `--no-progress`), on a terminal, and not under `CI`. */
export function showsProgress(wanted: boolean, stream: ProgressStream = process.stderr, env: Readonly<Record<string, string | undefined>> = processEnv()): boolean {
  return wanted && stream.isTTY === true && env.CI === undefined;
}

/** The part of cli-progress Sloth uses (the package ships no types): the bars of `sloth report` and the benchmarks. */
export interface ProgressBar {
  start(total: number, value: number, payload?: Record<string, unknown>): void;
  update(value: number, payload?: Record<string, unknown>): void;
  increment(): void;
  setTotal(total: number): void;
  stop(): void;
}

export interface CliProgress {
  SingleBar: new (options: Record<string, unknown>, preset: unknown) => ProgressBar;
  Presets: { shades_classic: unknown };
}

/** cli-progress, loaded when a bar is shown: every `sloth` command loads the command modules, few show a bar. */
export const loadCliProgress = (): CliProgress => createRequire(import.meta.url)('cli-progress') as CliProgress;
