import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { InputError } from '@sloth/core';

/** One row of a `timestamp,value` series file. */
export interface SeriesRow {
  /** Milliseconds since the Unix epoch (timestamps without a zone are read as UTC). */
  timestampMillis: number;
  /** The timestamp exactly as written in the file (kept so outputs echo it unchanged). */
  timestampText: string;
  value: number;
  /** 1-based line number in the file, for messages. */
  line: number;
}

/**
 * What the reader does with a timestamp earlier than the previous row's: `error` (an
 * {@link InputError} naming the line), `skip` the row, or `keep` it in file order (real feeds, NAB's
 * machine-temperature file among them, have such clock steps; a streaming detector sees rows in
 * arrival order anyway).
 */
export type BackwardsPolicy = 'error' | 'skip' | 'keep';

/** Options of {@link SeriesCsvParser}. */
export interface SeriesCsvOptions {
  /** @defaultValue 'error' — a row going back in time is an {@link InputError} naming the line. */
  backwards: BackwardsPolicy;
  /** Name used in messages (usually the file path). @defaultValue 'input' */
  source: string;
  /** Told about every line going back in time (under `keep` or `skip`). */
  onBackwards?: (line: number) => void;
  /** Told about every line whose timestamp equals the previous row's (kept, in file order). */
  onRepeated?: (line: number) => void;
}

const nabTimestamp = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?$/;
const epochNumber = /^\d{9,16}(\.\d+)?$/;

/**
 * Parses a timestamp: NAB's `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC), ISO 8601 with a zone,
 * or epoch seconds / milliseconds (numbers below 1e11 are seconds). Returns null when
 * the text is none of these.
 */
export function parseTimestamp(text: string): number | null {
  const t = text.trim();
  if (t === '') return null;
  if (epochNumber.test(t)) {
    const n = Number(t);
    return n < 1e11 ? Math.round(n * 1000) : Math.round(n);
  }
  const m = nabTimestamp.exec(t);
  if (m !== null) {
    const [month, day, hour, minute, second] = [Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
    const fraction = m[7] === undefined ? 0 : Math.round(Number(m[7]) * 1000);
    const millis = Date.UTC(Number(m[1]), month - 1, day, hour, minute, second) + fraction;
    return Number.isFinite(millis) ? millis : null;
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(t)) return null;
  const millis = Date.parse(t);
  return Number.isFinite(millis) ? millis : null;
}

/**
 * Incremental reader of `timestamp,value` lines. Policies (documented in docs/anomaly-detection.md):
 * empty lines are skipped; a first line whose first field is not a timestamp is a header;
 * a header-less file is fine; a value that is empty, `NaN` or not a number is an error naming the
 * line; equal timestamps are kept in file order; a timestamp going backwards follows
 * {@link BackwardsPolicy} (default `error`).
 */
export class SeriesCsvParser {
  private readonly options: SeriesCsvOptions;
  private sawData = false;
  private sawHeader = false;
  private previousMillis = -Infinity;
  /** Lines going back in time (dropped under `skip`, kept under `keep`). */
  backwardsLines: number[] = [];

  constructor(options: Partial<SeriesCsvOptions> = {}) {
    this.options = { ...options, backwards: options.backwards ?? 'error', source: options.source ?? 'input' };
  }

  /** Parses one line; returns the row, or null for a blank, header or skipped line. Throws {@link InputError}. */
  push(rawLine: string, line: number): SeriesRow | null {
    const text = rawLine.replace(/\r$/, '').trim();
    if (text === '') return null;
    const fields = text.split(',').map((f) => f.trim().replace(/^"(.*)"$/, '$1'));
    const [timeField = '', valueField] = fields;
    const timestampMillis = parseTimestamp(timeField);
    if (timestampMillis === null) {
      if (!this.sawData && !this.sawHeader) {
        this.sawHeader = true;
        return null;
      }
      throw new InputError(`${this.options.source}:${line}: cannot read timestamp ${JSON.stringify(timeField)} (expected "YYYY-MM-DD HH:MM:SS", ISO 8601 or epoch seconds/milliseconds)`, {
        line,
        value: timeField,
      });
    }
    if (valueField === undefined || valueField === '') {
      throw new InputError(`${this.options.source}:${line}: missing value (expected "timestamp,value")`, { line });
    }
    if (fields.slice(2).some((f) => f !== '')) {
      throw new InputError(`${this.options.source}:${line}: ${fields.length} fields; expected two, "timestamp,value" (which column is the value would be a guess: give a two-column file)`, { line });
    }
    const value = Number(valueField);
    if (!Number.isFinite(value)) {
      throw new InputError(`${this.options.source}:${line}: value ${JSON.stringify(valueField)} is not a finite number`, { line, value: valueField });
    }
    if (timestampMillis < this.previousMillis) {
      if (this.options.backwards !== 'error') {
        this.backwardsLines.push(line);
        this.options.onBackwards?.(line);
        if (this.options.backwards === 'skip') return null;
        this.previousMillis = timestampMillis;
        this.sawData = true;
        return { timestampMillis, timestampText: timeField, value, line };
      }
      throw new InputError(
        `${this.options.source}:${line}: timestamp ${JSON.stringify(timeField)} is earlier than the previous row's; rows must be in time order`,
        { line, value: timeField },
      );
    }
    if (timestampMillis === this.previousMillis) this.options.onRepeated?.(line);
    this.previousMillis = timestampMillis;
    this.sawData = true;
    return { timestampMillis, timestampText: timeField, value, line };
  }
}

/** Streams the rows of a `timestamp,value` CSV file in order. */
export async function* streamSeriesCsv(path: string, options: Partial<SeriesCsvOptions> = {}): AsyncGenerator<SeriesRow> {
  const parser = new SeriesCsvParser({ source: path, ...options });
  const input = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line += 1;
      const row = parser.push(text, line);
      if (row !== null) yield row;
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

/** Reads a whole `timestamp,value` CSV file. */
export async function readSeriesCsv(path: string, options: Partial<SeriesCsvOptions> = {}): Promise<SeriesRow[]> {
  const rows: SeriesRow[] = [];
  for await (const row of streamSeriesCsv(path, options)) rows.push(row);
  return rows;
}

/** Parses CSV text already in memory (same rules as {@link SeriesCsvParser}). */
export function parseSeriesCsv(text: string, options: Partial<SeriesCsvOptions> = {}): SeriesRow[] {
  const parser = new SeriesCsvParser(options);
  const rows: SeriesRow[] = [];
  text.split('\n').forEach((lineText, i) => {
    const row = parser.push(lineText, i + 1);
    if (row !== null) rows.push(row);
  });
  return rows;
}
