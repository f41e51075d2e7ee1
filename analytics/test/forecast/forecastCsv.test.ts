import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { forecastCsv, timestampFormatter } from '@sloth/analytics';
import { dailySeasonal } from './synthetic.js';

function nabTimestamp(millis: number): string {
  return new Date(millis).toISOString().replace('T', ' ').slice(0, 19);
}

describe('forecastCsv (sloth forecast)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-forecast-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeSeries(rows: Array<[string, string]>, header = true): Promise<string> {
    const path = join(dir, 'series.csv');
    await writeFile(path, `${header ? 'timestamp,value\n' : ''}${rows.map((r) => r.join(',')).join('\n')}\n`);
    return path;
  }

  it('uses rows up to --train-until and writes exactly N rows timestamp,value in the input format', async () => {
    const { timestamps, values } = dailySeasonal(24 * 20, { noise: 1 });
    const input = await writeSeries(timestamps.map((t, i) => [nabTimestamp(t), String(values[i])]));
    const output = join(dir, 'out.csv');
    const until = timestamps[24 * 15 - 1] as number;
    const result = await forecastCsv({ inputPath: input, trainUntil: nabTimestamp(until), horizon: 7, output, options: { mlpEpochs: 3 } });
    expect(result.trainingRows).toBe(24 * 15);
    const lines = (await readFile(output, 'utf8')).trimEnd().split('\n');
    expect(lines[0]).toBe('timestamp,value');
    expect(lines).toHaveLength(8);
    lines.slice(1).forEach((line, k) => {
      const [timestamp, value, ...rest] = line.split(',');
      expect(rest).toEqual([]);
      expect(timestamp).toBe(nabTimestamp(until + (k + 1) * 3_600_000));
      expect(Number.isFinite(Number(value))).toBe(true);
      // Rows after --train-until exist in the file; the forecast must not have peeked at them
      // (it cannot equal them exactly), but should be near the seasonal pattern.
      expect(Math.abs(Number(value) - (values[24 * 15 + k] as number))).toBeLessThan(6);
    });
  });

  it('--quantiles adds p10, p50 and p90 columns with p10 ≤ p50 = value ≤ p90', async () => {
    const { timestamps, values } = dailySeasonal(24 * 10, { noise: 3 });
    const input = await writeSeries(timestamps.map((t, i) => [String(t / 1000), String(values[i])]), false);
    const output = join(dir, 'q.csv');
    await forecastCsv({ inputPath: input, trainUntil: String((timestamps[timestamps.length - 1] as number) / 1000), horizon: 3, output, quantiles: true, options: { models: ['holt-winters', 'ets'] } });
    const lines = (await readFile(output, 'utf8')).trimEnd().split('\n');
    expect(lines[0]).toBe('timestamp,value,p10,p50,p90');
    expect(lines).toHaveLength(4);
    lines.slice(1).forEach((line, k) => {
      const [timestamp, value, p10, p50, p90] = line.split(',').map(Number) as [number, number, number, number, number];
      expect(value).toBe(p50);
      expect(timestamp).toBe((timestamps[timestamps.length - 1] as number) / 1000 + (k + 1) * 3600);
      expect(p10).toBeLessThanOrEqual(p50);
      expect(p50).toBeLessThanOrEqual(p90);
    });
  });

  it('reports bad input clearly', async () => {
    const rows: Array<[string, string]> = [
      ['2024-01-01 00:00:00', '1'],
      ['2024-01-01 00:05:00', '2'],
      ['2024-01-01 00:10:00', '3'],
    ];
    const input = await writeSeries(rows);
    const output = join(dir, 'o.csv');
    const run = (trainUntil: string, horizon: number, path = input): Promise<unknown> => forecastCsv({ inputPath: path, trainUntil, horizon, output });
    await expect(run('2024-01-01 00:07:00', 2)).rejects.toThrow(/not a timestamp in .*series\.csv; the nearest rows are 2024-01-01 00:05:00 \(line 3\) and 2024-01-01 00:10:00 \(line 4\)/);
    await expect(run('2023-12-31 23:00:00', 2)).rejects.toThrow(/before the first row \(2024-01-01 00:00:00, line 2\)/);
    await expect(run('yesterday', 2)).rejects.toThrow(/--train-until "yesterday" is not a timestamp/);
    await expect(run('2024-01-01 00:10:00', 0)).rejects.toThrow(/--horizon must be a positive whole number of steps, got 0/);
    await expect(run('2024-01-01 00:10:00', -3)).rejects.toMatchObject({ code: 'SLOTH_ERR_INPUT' });
    const withNaN = await writeSeries([...rows.slice(0, 2), ['2024-01-01 00:10:00', 'NaN']]);
    await expect(run('2024-01-01 00:10:00', 2, withNaN)).rejects.toThrow(/series\.csv:4: value "NaN" is not a finite number/);
    const unsorted = await writeSeries([rows[0] as [string, string], rows[2] as [string, string], rows[1] as [string, string]]);
    await expect(run('2024-01-01 00:10:00', 2, unsorted)).rejects.toThrow(/series\.csv:4: timestamp "2024-01-01 00:05:00" is earlier than the previous row's/);
    const duplicate = await writeSeries([rows[0] as [string, string], rows[1] as [string, string], rows[1] as [string, string], rows[2] as [string, string]]);
    await expect(run('2024-01-01 00:10:00', 2, duplicate)).rejects.toThrow(/series\.csv:4: duplicate timestamp 2024-01-01 00:05:00 \(also on line 3\)/);
    const empty = await writeSeries([]);
    await expect(run('2024-01-01 00:10:00', 2, empty)).rejects.toThrow(/no data rows/);
  });

  it('forecasts a three-row file with the simple fallback model', async () => {
    const input = await writeSeries([
      ['2024-01-01T00:00:00Z', '1'],
      ['2024-01-01T00:05:00Z', '2'],
      ['2024-01-01T00:10:00Z', '3'],
    ]);
    const output = join(dir, 'short.csv');
    const result = await forecastCsv({ inputPath: input, trainUntil: '2024-01-01T00:10:00Z', horizon: 2, output });
    expect(result.warnings?.length).toBe(1);
    expect(await readFile(output, 'utf8')).toBe('timestamp,value\n2024-01-01T00:15:00Z,3\n2024-01-01T00:20:00Z,3\n');
  });
});

describe('timestampFormatter', () => {
  it('echoes the input timestamp format', () => {
    const t = Date.UTC(2014, 1, 14, 14, 30, 0);
    expect(timestampFormatter('2014-02-14 14:25:00')(t)).toBe('2014-02-14 14:30:00');
    expect(timestampFormatter('2014-02-14T14:25')(t)).toBe('2014-02-14T14:30');
    expect(timestampFormatter('2014-02-14T14:25:00.000Z')(t)).toBe('2014-02-14T14:30:00.000Z');
    expect(timestampFormatter('2014-02-14T15:25:00+01:00')(t)).toBe('2014-02-14T15:30:00+01:00');
    expect(timestampFormatter('1392388200')(t)).toBe('1392388200');
    expect(timestampFormatter('1392388200000')(t)).toBe('1392388200000');
  });
});
