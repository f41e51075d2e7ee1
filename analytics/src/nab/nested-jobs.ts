import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readSeriesCsv } from '../csv-series.js';
import type { DetectorOptions } from '../detector/contract.js';
import { decodeModelTrace, emptyModelTrace, encodeModelTrace, type ModelTrace } from '../detector/model-trace.js';
import { updateAndTrain, type DetectorInputRow } from '../detector/run-series.js';
import { defaultDetectorOptions, StreamingDetector } from '../detector/series-detector.js';
import { applyTuningOverrides } from '../detector/tuning.js';

/** Work for a nested-CV worker: record one file's model trace, or score one file under constants. */
export type NestedJob =
  | { kind: 'trace'; dataPath: string; tracePath: string }
  | { kind: 'score'; dataPath: string; tracePath: string | null; overrides: string };

/** Result of a {@link NestedJob}: rows traced, or the file's anomaly scores. */
export type NestedJobResult = { kind: 'trace'; rows: number } | { kind: 'score'; scores: Float64Array };

/** Messages between the nested-CV pool and its workers. */
export type NestedWorkerRequest = { id: number; job: NestedJob };
export type NestedWorkerReply = { id: number; ok: true; result: NestedJobResult } | { id: number; ok: false; message: string };

/** The legacy detector's options for the nested search (the product's model settings). */
export function nestedDetectorOptions(useModel: boolean): DetectorOptions {
  return { ...defaultDetectorOptions, algorithm: 'legacy', useModel };
}

/**
 * Runs the legacy detector with the product's constants (the model's forecasts do not depend on the
 * post-processing ones) and records the model's per-row outputs.
 */
export async function recordModelTrace(rows: readonly DetectorInputRow[]): Promise<ModelTrace> {
  applyTuningOverrides(undefined);
  const detector = new StreamingDetector(nestedDetectorOptions(true));
  const trace = emptyModelTrace();
  detector.attachModelTrace(trace, 'record');
  for (const row of rows) await updateAndTrain(detector, row);
  return trace;
}

/**
 * Scores a series under tuning overrides (JSON), replaying `trace` for the model or, when it is null,
 * without a model (the statistics-only detector). Synchronous: the overrides are the module's
 * constants for exactly this call.
 */
export function replayScores(rows: readonly DetectorInputRow[], trace: ModelTrace | null, overrides: string): Float64Array {
  applyTuningOverrides(overrides);
  try {
    const detector = new StreamingDetector(nestedDetectorOptions(trace !== null));
    if (trace !== null) detector.attachModelTrace(trace, 'replay');
    const scores = new Float64Array(rows.length);
    for (let i = 0; i < rows.length; i += 1) {
      const row = rows[i] as DetectorInputRow;
      scores[i] = detector.update(row.timestampMillis, row.value).score;
    }
    return scores;
  } finally {
    applyTuningOverrides(undefined);
  }
}

/** Reads a series as `sloth bench nab` does (rows in file order, clock steps kept). */
export async function readNabSeries(dataPath: string): Promise<DetectorInputRow[]> {
  const rows = await readSeriesCsv(dataPath, { backwards: 'keep', source: dataPath });
  return rows.map((r) => ({ timestampMillis: r.timestampMillis, value: r.value }));
}

export async function readTraceFile(path: string): Promise<ModelTrace> {
  const buffer = await readFile(path);
  const data = new Float64Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength));
  return decodeModelTrace(data, path);
}

async function writeTraceFile(path: string, trace: ModelTrace): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.partial`;
  await writeFile(partial, encodeModelTrace(trace));
  await rename(partial, path);
}

/** Runs nested-CV jobs with per-thread caches of the series and traces read so far. */
export class NestedJobRunner {
  private readonly series = new Map<string, Promise<DetectorInputRow[]>>();
  private readonly traces = new Map<string, Promise<ModelTrace>>();

  private rows(dataPath: string): Promise<DetectorInputRow[]> {
    let p = this.series.get(dataPath);
    if (p === undefined) {
      p = readNabSeries(dataPath);
      this.series.set(dataPath, p);
    }
    return p;
  }

  async run(job: NestedJob): Promise<NestedJobResult> {
    const rows = await this.rows(job.dataPath);
    if (job.kind === 'trace') {
      const trace = await recordModelTrace(rows);
      await writeTraceFile(job.tracePath, trace);
      this.traces.set(job.tracePath, Promise.resolve(trace));
      return { kind: 'trace', rows: rows.length };
    }
    let trace: ModelTrace | null = null;
    if (job.tracePath !== null) {
      const path = job.tracePath;
      let p = this.traces.get(path);
      if (p === undefined) {
        if (!existsSync(path)) throw new Error(`no model trace at ${path}`);
        p = readTraceFile(path);
        this.traces.set(path, p);
      }
      trace = await p;
      if (trace.versions.length !== rows.length) throw new Error(`${path}: model trace has ${trace.versions.length} rows, ${job.dataPath} has ${rows.length}`);
    }
    return { kind: 'score', scores: replayScores(rows, trace, job.overrides) };
  }
}
