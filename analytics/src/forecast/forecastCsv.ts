import { writeFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { InputError } from '@sloth/core';
import { parseTimestamp, readSeriesCsv } from '../csv-series.js';
import { forecastSeries } from './forecastSeries.js';
import { timestampFormatter } from './timestampFormat.js';
import { writeText } from '@sloth/core';
import type { ForecastOptions, ForecastProgress, ForecastResult } from './types.js';

/** The last instant an ECMAScript Date holds (8.64e15 ms after the epoch). */
const maxDateMillis = 8.64e15;

/** What `sloth forecast` does, as a function. */
export interface ForecastCsvRequest {
  inputPath: string;
  /** Timestamp of the last row to use, as written in the file (any format the CSV reader accepts). */
  trainUntil: string;
  horizon: number;
  /** A file to write, or a stream the caller owns (standard output: written, not ended). */
  output: string | Writable;
  /** Also write p10, p50 and p90 columns (`timestamp,value,p10,p50,p90`; value = p50). @defaultValue false */
  quantiles?: boolean;
  options?: Partial<ForecastOptions>;
  /** Hears the forecast's progress (see `forecastSeries`). */
  onProgress?: ForecastProgress;
}

/** Reads a `timestamp,value` CSV, forecasts `horizon` steps after `trainUntil`, writes `timestamp,value` (value = p50). */
export async function forecastCsv(request: ForecastCsvRequest): Promise<ForecastResult & { trainingRows: number }> {
  if (!Number.isInteger(request.horizon) || request.horizon <= 0) {
    throw new InputError(`--horizon must be a positive whole number of steps, got ${request.horizon}`, { horizon: request.horizon });
  }
  const untilMillis = parseTimestamp(request.trainUntil);
  if (untilMillis === null) {
    throw new InputError(`--train-until ${JSON.stringify(request.trainUntil)} is not a timestamp (expected "YYYY-MM-DD HH:MM:SS", ISO 8601 or epoch seconds/milliseconds)`);
  }
  const rows = await readSeriesCsv(request.inputPath);
  if (rows.length === 0) throw new InputError(`${request.inputPath}: no data rows (expected "timestamp,value" lines)`);
  const first = rows[0] as (typeof rows)[number];
  if (untilMillis < first.timestampMillis) {
    throw new InputError(`--train-until ${JSON.stringify(request.trainUntil)} is before the first row (${first.timestampText}, line ${first.line}) of ${request.inputPath}`);
  }
  const lastIndex = rows.findIndex((r) => r.timestampMillis > untilMillis) - 1;
  const endIndex = lastIndex === -2 ? rows.length - 1 : lastIndex;
  const end = rows[endIndex] as (typeof rows)[number];
  if (end.timestampMillis !== untilMillis) {
    const next = rows[endIndex + 1];
    throw new InputError(
      `--train-until ${JSON.stringify(request.trainUntil)} is not a timestamp in ${request.inputPath}; the nearest rows are ${end.timestampText} (line ${end.line})${next === undefined ? '' : ` and ${next.timestampText} (line ${next.line})`}`,
    );
  }
  const training = rows.slice(0, endIndex + 1);
  for (let i = 1; i < training.length; i++) {
    const row = training[i] as (typeof rows)[number];
    if (row.timestampMillis === (training[i - 1] as (typeof rows)[number]).timestampMillis) {
      throw new InputError(`${request.inputPath}:${row.line}: duplicate timestamp ${row.timestampText} (also on line ${(training[i - 1] as (typeof rows)[number]).line}); timestamps must be unique`);
    }
  }
  const result = await forecastSeries(
    training.map((r) => r.timestampMillis),
    training.map((r) => r.value),
    request.horizon,
    request.options,
    undefined,
    request.onProgress,
  );
  // Past ECMAScript's last date (+275760-09-13) a timestamp is written as "NaN-NaN-NaN": refuse instead of exit 0 on that.
  const last = result.points.at(-1);
  if (last !== undefined && !(last.timestampMillis <= maxDateMillis)) {
    const reachable = Math.max(0, Math.floor((maxDateMillis - untilMillis) / result.stepMillis));
    throw new InputError(
      `--horizon ${request.horizon} steps of ${result.stepMillis} ms after ${end.timestampText} run past the last date a timestamp can hold (year 275760); at this step forecast at most ${reachable} steps`,
      { horizon: request.horizon, stepMillis: result.stepMillis },
    );
  }
  const format = timestampFormatter(end.timestampText);
  // Every written timestamp must read back as the time it stands for (the output is a series file like the input):
  // a year past 9999 has no YYYY-MM-DD form, and epoch seconds from 1e11 on are read as milliseconds. The first
  // and last steps bound the range (both limits are thresholds in time); refuse naming the first step past one.
  const readsBack = (millis: number): boolean => {
    const text = format(millis);
    const again = parseTimestamp(text);
    return again !== null && format(again) === text;
  };
  const firstPoint = result.points[0];
  if (firstPoint !== undefined && last !== undefined && !(readsBack(firstPoint.timestampMillis) && readsBack(last.timestampMillis))) {
    const bad = result.points.findIndex((p) => !readsBack(p.timestampMillis));
    const point = result.points[bad] as (typeof result.points)[number];
    throw new InputError(
      `--horizon ${request.horizon}: step ${bad + 1} after ${end.timestampText} would be written as ${format(point.timestampMillis)}, which the CSV reader cannot read back as that time (a year past 9999 has no YYYY-MM-DD form; epoch seconds from 1e11 on read as milliseconds); in this timestamp format forecast at most ${bad} steps`,
      { horizon: request.horizon, step: bad + 1, stepMillis: result.stepMillis },
    );
  }
  // The contract: --quantiles adds p10,p50,p90 after the default columns, which stay as they are.
  const header = request.quantiles === true ? 'timestamp,value,p10,p50,p90' : 'timestamp,value';
  const lines = result.points.map((p) => (request.quantiles === true ? `${format(p.timestampMillis)},${p.p50},${p.p10},${p.p50},${p.p90}` : `${format(p.timestampMillis)},${p.p50}`));
  const text = `${header}\n${lines.join('\n')}\n`;
  if (typeof request.output === 'string') await writeFile(request.output, text);
  else await writeText(request.output, text);
  return { ...result, trainingRows: training.length };
}
