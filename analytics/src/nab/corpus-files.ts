import { readFile, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { InputError } from '@sloth/core';
import { parseTimestamp } from '../csv-series.js';
import type { NabFile } from './sweep.js';

/** Windows per relative data path (`combined_windows.json`), as epoch milliseconds. */
export type NabWindows = Map<string, Array<[number, number]>>;

/** Reads NAB's `combined_windows.json`. */
export async function readNabWindows(path: string): Promise<NabWindows> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new InputError(`cannot read NAB windows file ${path}: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InputError(`${path}: expected an object {"<category>/<file>.csv": [[start, end], ...]}`);
  }
  const windows: NabWindows = new Map();
  for (const [name, list] of Object.entries(parsed as Record<string, unknown>)) {
    if (!Array.isArray(list)) throw new InputError(`${path}: windows of ${name} must be an array`);
    windows.set(
      normalisePath(name),
      list.map((pair: unknown, k) => {
        const [a, b] = Array.isArray(pair) ? (pair as unknown[]) : [];
        const start = typeof a === 'string' ? parseTimestamp(a) : null;
        const end = typeof b === 'string' ? parseTimestamp(b) : null;
        if (start === null || end === null) throw new InputError(`${path}: window ${k} of ${name} is not a pair of timestamps`);
        return [start, end] as [number, number];
      }),
    );
  }
  return windows;
}

/** Every `*.csv` under a directory, as sorted paths relative to it with `/` separators. */
export async function listCsvFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.csv'))
    .map((e) => normalisePath(relative(dir, join(e.parentPath, e.name))))
    .sort();
}

/** Reads one NAB result file (`timestamp,value,anomaly_score` with a header). */
export async function readResultFile(path: string, name: string, windows: ReadonlyArray<[number, number]>): Promise<NabFile> {
  const lines = (await readFile(path, 'utf8')).split('\n');
  const header = (lines[0] ?? '').trim().split(',');
  const timeColumn = header.indexOf('timestamp');
  const scoreColumn = header.indexOf('anomaly_score');
  if (timeColumn < 0 || scoreColumn < 0) throw new InputError(`${path}: header must name the columns timestamp and anomaly_score`);
  const timestampsMillis: number[] = [];
  const anomalyScores: number[] = [];
  for (let i = 1; i < lines.length; i += 1) {
    const text = (lines[i] ?? '').trim();
    if (text === '') continue;
    const fields = text.split(',');
    const t = parseTimestamp(fields[timeColumn] ?? '');
    const s = Number(fields[scoreColumn]);
    if (t === null) throw new InputError(`${path}:${i + 1}: bad timestamp ${JSON.stringify(fields[timeColumn])}`);
    if (!Number.isFinite(s)) throw new InputError(`${path}:${i + 1}: bad anomaly_score ${JSON.stringify(fields[scoreColumn])}`);
    timestampsMillis.push(t);
    anomalyScores.push(s);
  }
  return { name, timestampsMillis, anomalyScores, windows };
}

/**
 * Loads every labelled result file under `resultsDir` (same relative paths as the data).
 * Files without labels are ignored; a labelled file without results is an error.
 */
export async function readResultsCorpus(resultsDir: string, windows: NabWindows): Promise<NabFile[]> {
  const present = new Set(await listCsvFiles(resultsDir));
  const missing = [...windows.keys()].filter((name) => !present.has(name));
  if (missing.length > 0) {
    throw new InputError(`${resultsDir}: no results for ${missing.length} labelled file(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  }
  const names = [...windows.keys()].sort();
  return Promise.all(names.map((name) => readResultFile(join(resultsDir, name), name, windows.get(name) ?? [])));
}

function normalisePath(p: string): string {
  return p.split(sep).join('/').replace(/^\.\//, '');
}
