import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectorCandidates, runNabCrossValidation } from '../../src/nab/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sloth-nab-cv-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Two categories of two 600-row series, each with a level shift at a different row and its window. */
async function writeCorpus(): Promise<{ data: string; labels: string }> {
  const data = join(dir, 'data');
  const stamp = (i: number): string => new Date(Date.UTC(2024, 0, 1) + i * 300_000).toISOString().replace('T', ' ').slice(0, 19);
  const windows: Record<string, string[][]> = {};
  for (const [category, shifts] of [
    ['catA', [400, 450]],
    ['catB', [420, 500]],
  ] as const) {
    await mkdir(join(data, category), { recursive: true });
    for (const [k, shift] of shifts.entries()) {
      const rows = Array.from({ length: 600 }, (_, i) => `${stamp(i)},${(10 + Math.sin(i / 5) + 0.3 * Math.sin(i * 7.7 + k) + (i >= shift ? 25 : 0)).toFixed(4)}`);
      await writeFile(join(data, category, `s${k}.csv`), `timestamp,value\n${rows.join('\n')}\n`);
      windows[`${category}/s${k}.csv`] = [[`${stamp(shift - 20)}.000000`, `${stamp(shift + 39)}.000000`]];
    }
  }
  const labels = join(dir, 'windows.json');
  await writeFile(labels, JSON.stringify(windows));
  return { data, labels };
}

describe('runNabCrossValidation', () => {
  it('runs each candidate, reports every fold and profile, and reuses completed candidates', async () => {
    const { data, labels } = await writeCorpus();
    const candidates = detectorCandidates(false).filter((c) => c.name === 'stats-g1-l0-s300' || c.name === 'prior-l0-s150');
    expect(candidates).toHaveLength(2);
    const outDir = join(dir, 'out');
    const seen: string[] = [];
    const report = await runNabCrossValidation({ dataDir: data, labelsPath: labels, outDir, candidates, concurrency: 1, onCandidate: (_, __, name) => seen.push(name) });
    expect(seen).toEqual(['stats-g1-l0-s300', 'prior-l0-s150']);
    expect(report.model).toBeNull();
    expect(report.all.profiles.map((p) => p.profile)).toEqual(['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']);
    for (const p of report.all.profiles) {
      expect(p.folds.map((f) => f.category)).toEqual(['catA', 'catB']);
      for (const f of p.folds) expect(candidates.map((c) => c.name)).toContain(f.chosen);
      expect(p.pooled).toBeGreaterThan(0);
      expect(p.pooled).toBeLessThanOrEqual(100);
    }
    expect(report.all.outOfFold.map((f) => f.name)).toEqual(['catA/s0.csv', 'catA/s1.csv', 'catB/s0.csv', 'catB/s1.csv']);
    expect(report.falseAlarms.map((r) => r.threshold)).toEqual([0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9]);

    // With reuse, a completed candidate is read back, not detected again (its files stay untouched);
    // without it, the files are rewritten with the same scores.
    const resultFile = join(outDir, 'cv', 'prior-l0-s150', 'catA', 's0.csv');
    const before = (await stat(resultFile)).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const again = await runNabCrossValidation({ dataDir: data, labelsPath: labels, outDir, candidates, concurrency: 1, reuse: true });
    expect((await stat(resultFile)).mtimeMs).toBe(before);
    expect(again.all.profiles[0]?.pooled).toBeCloseTo(report.all.profiles[0]?.pooled ?? Number.NaN, 10);
    const rerun = await runNabCrossValidation({ dataDir: data, labelsPath: labels, outDir, candidates, concurrency: 1 });
    expect((await stat(resultFile)).mtimeMs).toBeGreaterThan(before);
    expect(rerun.all.profiles[0]?.pooled).toBeCloseTo(report.all.profiles[0]?.pooled ?? Number.NaN, 10);
  }, 120_000);

  it('sets base constants under every candidate, never reuses results made without them, and names an unknown one', async () => {
    const { data, labels } = await writeCorpus();
    const candidates = detectorCandidates(false).filter((c) => c.name === 'stats-g1-l0-s300');
    const outDir = join(dir, 'out');
    const resultFile = join(outDir, 'cv', 'stats-g1-l0-s300', 'catA', 's0.csv');
    await runNabCrossValidation({ dataDir: data, labelsPath: labels, outDir, candidates, concurrency: 1 });
    const plain = await readFile(resultFile, 'utf8');
    // Warm-up past the whole series: nothing is scored, whatever the candidate says.
    await runNabCrossValidation({ dataDir: data, labelsPath: labels, outDir, candidates, concurrency: 1, reuse: true, baseOverrides: JSON.stringify({ likelihoodWarmupRows: 10_000 }) });
    const based = await readFile(resultFile, 'utf8');
    expect(based).not.toBe(plain);
    expect(based.trim().split('\n').slice(1).every((line) => Number(line.split(',')[2]) === 0)).toBe(true);
    await expect(runNabCrossValidation({ dataDir: data, labelsPath: labels, outDir, candidates, concurrency: 1, baseOverrides: JSON.stringify({ nope: 1 }) })).rejects.toThrow(/"nope"/);
  }, 120_000);

  it('never reuses results made with other default constants (an older tuning.ts), even with the same overrides', async () => {
    const { data, labels } = await writeCorpus();
    const candidates = detectorCandidates(false).filter((c) => c.name === 'stats-g1-l0-s300');
    const outDir = join(dir, 'out');
    const resultFile = join(outDir, 'cv', 'stats-g1-l0-s300', 'catA', 's0.csv');
    const marker = join(outDir, 'cv', 'stats-g1-l0-s300', 'complete.json');
    await runNabCrossValidation({ dataDir: data, labelsPath: labels, outDir, candidates, concurrency: 1 });
    const before = (await stat(resultFile)).mtimeMs;
    // The marker as a run with a different default `shortRows` (same candidate overrides) would leave it.
    const written = JSON.parse(await readFile(marker, 'utf8')) as { settings: string; names: string[] };
    const settings = JSON.parse(written.settings) as { tuning: Record<string, number> };
    expect(settings.tuning.shortRows).toBe(6);
    settings.tuning.shortRows = 10;
    await writeFile(marker, JSON.stringify({ settings: JSON.stringify(settings), names: written.names }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await runNabCrossValidation({ dataDir: data, labelsPath: labels, outDir, candidates, concurrency: 1, reuse: true });
    expect((await stat(resultFile)).mtimeMs).toBeGreaterThan(before);
    // The marker now names the defaults in force, so a second reuse run reads the results back.
    const after = (await stat(resultFile)).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await runNabCrossValidation({ dataDir: data, labelsPath: labels, outDir, candidates, concurrency: 1, reuse: true });
    expect((await stat(resultFile)).mtimeMs).toBe(after);
  }, 120_000);
});
