import { readFile, writeFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { InputError, writeText } from '@sloth/core';
import { dailySeasonSteps, HorizonForecaster } from './forecaster.js';
import { defaultReactiveReference, ScalingPolicy, type ScalingDecision, type ScalingPolicySettings } from './policy.js';

/** One row of a demand trace. */
export interface TraceRow {
  /** The timestamp exactly as written in the file (echoed in the plan). */
  timestamp: string;
  timestampMillis: number;
  demand: number;
}

function parseTimestamp(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    // Seconds or milliseconds since the epoch.
    return n < 1e11 ? n * 1000 : n;
  }
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text) ? `${text.replace(' ', 'T')}Z` : text;
  return Date.parse(iso);
}

/** Parses `timestamp,value` CSV text (header optional); every problem names its line and value. */
export function parseTrace(text: string, source = 'trace'): TraceRow[] {
  const rows: TraceRow[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '') return;
    const parts = trimmed.split(',');
    // A header is a first line whose first field is not a timestamp ("timestamp,value"): a first row with a
    // timestamp and a bad demand is an error like any other row's, not a header to skip.
    if (index === 0 && parts[1] !== undefined && !Number.isFinite(Number(parts[1])) && !Number.isFinite(parseTimestamp((parts[0] as string).trim()))) return;
    if (parts.length < 2) throw new InputError(`${source} line ${index + 1}: expected "timestamp,value", got ${JSON.stringify(trimmed)}`);
    if (parts.slice(2).some((p) => p.trim() !== '')) {
      throw new InputError(`${source} line ${index + 1}: ${parts.length} fields; expected two, "timestamp,value" (which column is the demand would be a guess: give a two-column file)`);
    }
    const timestamp = (parts[0] as string).trim();
    const demand = Number((parts[1] as string).trim());
    const timestampMillis = parseTimestamp(timestamp);
    if (!Number.isFinite(timestampMillis)) throw new InputError(`${source} line ${index + 1}: timestamp ${JSON.stringify(timestamp)} is not a date (use YYYY-MM-DD HH:MM:SS, ISO 8601 or Unix seconds)`);
    if ((parts[1] as string).trim() === '' || !Number.isFinite(demand) || demand < 0) {
      throw new InputError(`${source} line ${index + 1}: demand ${JSON.stringify(parts[1])} must be a number ≥ 0`);
    }
    const previous = rows[rows.length - 1];
    if (previous !== undefined && timestampMillis <= previous.timestampMillis) {
      throw new InputError(`${source} line ${index + 1}: timestamp ${timestamp} is not after the previous row's ${previous.timestamp}; sort the trace by time`);
    }
    rows.push({ timestamp, timestampMillis, demand });
  });
  if (rows.length === 0) throw new InputError(`${source} has no timestamp,value rows`);
  return rows;
}

/** The median step of a trace, in milliseconds. */
export function traceStepMillis(rows: readonly TraceRow[]): number {
  const gaps: number[] = [];
  for (let i = 1; i < rows.length && gaps.length < 1000; i += 1) gaps.push((rows[i] as TraceRow).timestampMillis - (rows[i - 1] as TraceRow).timestampMillis);
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)] ?? 0;
}

export interface PlanOptions extends Omit<ScalingPolicySettings, 'minReplicas' | 'maxReplicas'> {
  /** @defaultValue 1 */
  minReplicas?: number;
  /** @defaultValue 10000 */
  maxReplicas?: number;
  /** Replicas running before the first step. @defaultValue minReplicas */
  initialReplicas?: number;
  /** Let the forecaster use an intra-day period found by the series' own autocorrelation (see {@link HorizonForecaster}). @defaultValue false */
  periodicForecast?: boolean;
}

/**
 * Runs the production policy causally over a trace: at step t the forecaster
 * and the policy have seen rows 0…t only, so a prefix of a trace plans the
 * same first rows as the whole trace.
 */
export function planTrace(rows: readonly TraceRow[], options: PlanOptions): ScalingDecision[] {
  const { periodicForecast, ...policyOptions } = options;
  // The forecaster keeps a window of startupSteps: past the trace it is only an allocation that fails.
  if (!(options.startupSteps < rows.length)) {
    throw new InputError(`--startup-steps ${options.startupSteps} is not below the ${rows.length} rows of the trace: a replica requested at the first step would start after the last`);
  }
  const stepMillis = traceStepMillis(rows);
  const settings: ScalingPolicySettings = {
    referenceStabilizationSteps: Math.max(1, Math.round(defaultReactiveReference.stabilizationMillis / Math.max(stepMillis, 1))),
    ...policyOptions,
    minReplicas: options.minReplicas ?? 1,
    maxReplicas: options.maxReplicas ?? 10_000,
  };
  const policy = new ScalingPolicy(settings, options.initialReplicas);
  const forecaster = new HorizonForecaster({ horizonSteps: Math.max(1, settings.startupSteps), seasonSteps: dailySeasonSteps(stepMillis), periodic: periodicForecast === true });
  return rows.map((row) => {
    forecaster.observe(row.demand);
    return policy.decide({ timestampMillis: row.timestampMillis, demand: row.demand, forecast: forecaster.forecast() });
  });
}

/**
 * `sloth scale plan`: reads the trace, plans, writes `timestamp,replicas` (contract, ARCHITECTURE.md)
 * to the file `output` or to a stream the caller owns (standard output: written, not ended).
 */
export async function planCsv(inputPath: string, output: string | Writable, options: PlanOptions): Promise<ScalingDecision[]> {
  const rows = parseTrace(await readFile(inputPath, 'utf8'), inputPath);
  const decisions = planTrace(rows, options);
  const lines = ['timestamp,replicas'];
  decisions.forEach((decision, i) => lines.push(`${(rows[i] as TraceRow).timestamp},${decision.replicas}`));
  const text = `${lines.join('\n')}\n`;
  if (typeof output === 'string') await writeFile(output, text);
  else await writeText(output, text);
  return decisions;
}
