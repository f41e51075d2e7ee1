import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { realNabFiles, runForecastBench } from '@sloth/analytics';
import { gaussianNoise } from './synthetic.js';

describe('runForecastBench', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-bench-forecast-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('scores every method on each real* series and summarises with geometric means', async () => {
    const random = gaussianNoise(21);
    const start = Date.UTC(2014, 0, 1);
    const fiveMinutes = 300_000;
    const write = async (category: string, name: string, value: (i: number) => number, count: number): Promise<void> => {
      await mkdir(join(dir, category), { recursive: true });
      const lines = ['timestamp,value'];
      for (let i = 0; i < count; i++) lines.push(`${new Date(start + i * fiveMinutes).toISOString().replace('T', ' ').slice(0, 19)},${value(i)}`);
      // A repeated timestamp, as in NAB's DST hour: the benchmark keeps the first row.
      lines.splice(500, 0, lines[499] as string);
      await writeFile(join(dir, category, name), `${lines.join('\n')}\n`);
    };
    let level = 50;
    await write('realTest', 'daily.csv', (i) => 50 + 20 * Math.sin((2 * Math.PI * i) / 288) + 2 * random(), 288 * 6);
    await write('realTest', 'walk.csv', () => (level += random()), 1500);
    await write('artificialNoAnomaly', 'ignored.csv', () => 1, 100);

    const files = await realNabFiles(dir);
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual(['realTest/daily.csv', 'realTest/walk.csv']);
    const done: string[] = [];
    const report = await runForecastBench(files, { horizon: 6, origins: 3, maxHistoryPoints: 4032, options: { models: ['seasonal-naive', 'holt-winters', 'ets', 'seasonal-profile'] } }, 1, (f) => done.push(f));
    expect(done).toHaveLength(2);
    expect(report.skipped).toEqual([]);
    const [daily, walk] = report.series;
    expect(daily?.points).toBe(288 * 6);
    expect(daily?.seasonSteps).toBe(288);
    expect(walk?.seasonSteps).toBe(288);
    expect(daily?.originsUsed).toBe(3);
    expect(daily?.selectedModels).toHaveLength(3);
    for (const s of report.series) {
      for (const method of ['sloth', 'seasonal-naive', 'holt-winters'] as const) {
        expect(s.scores[method].mase).toBeGreaterThan(0);
        expect(Number.isFinite(s.scores[method].smape)).toBe(true);
      }
      expect(s.scores.sloth.coverage).toBeGreaterThanOrEqual(0);
      expect(s.scores.sloth.coverage).toBeLessThanOrEqual(1);
    }
    // On a random walk the last value beats "same time yesterday" by far; Sloth must find that.
    expect(walk?.scores.sloth.mase).toBeLessThan(walk?.scores['seasonal-naive'].mase ?? 0);
    const gm = Math.sqrt((daily?.scores.sloth.mase ?? 0) * (walk?.scores.sloth.mase ?? 0));
    expect(report.summary.sloth.geometricMeanMase).toBeCloseTo(gm, 10);
    expect(report.summary['seasonal-naive'].coverage).toBeUndefined();
  });
});
