import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyTuningOverrides } from '../../src/detector/index.js';
import { detectFile } from '../../src/detector/detect-file.js';
import { categoryOf, leaveOneCategoryOut, listCsvFiles, nestedGrid, readResultFile, replayScores, runNestedNabCrossValidation, searchAllCategories, searchNested, type NabFile, type NestedCoordinate, type NestedEvaluator, type Overrides } from '../../src/nab/index.js';
import { NestedJobRunner } from '../../src/nab/nested-jobs.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sloth-nab-nested-'));
});
afterEach(async () => {
  applyTuningOverrides(undefined);
  await rm(dir, { recursive: true, force: true });
});

const start = Date.UTC(2024, 0, 1);
const step = 300_000;
const stamp = (i: number): string => new Date(start + i * step).toISOString().replace('T', ' ').slice(0, 19);

interface Series {
  name: string;
  values: number[];
  window: [number, number];
}

/** Three categories of two 700-row series with a level shift (in its window) and a few spikes outside. */
function corpus(shiftOf: (category: string, k: number) => number): Series[] {
  const out: Series[] = [];
  for (const category of ['a', 'b', 'c']) {
    for (let k = 0; k < 2; k += 1) {
      const shift = shiftOf(category, k);
      const values = Array.from({ length: 700 }, (_, i) => 10 + Math.sin(i / 6) + 0.4 * Math.sin(i * 7.7 + k + category.charCodeAt(0)) + (i >= shift ? 12 : 0) + (i % 173 === 37 ? 6 : 0));
      out.push({ name: `${category}/s${k}.csv`, values, window: [shift - 20, shift + 39] });
    }
  }
  return out;
}

/** A real evaluator: the statistics-only detector over in-memory series; records the names asked for. */
function evaluatorOf(series: readonly Series[], asked: string[][]): NestedEvaluator {
  const byName = new Map(series.map((s) => [s.name, s]));
  return async (configs: readonly Overrides[], names: readonly string[]) => {
    asked.push([...names]);
    return configs.map((config) =>
      names.map((name): NabFile => {
        const s = byName.get(name) as Series;
        const timestampsMillis = s.values.map((_, i) => start + i * step);
        const scores = replayScores(
          s.values.map((value, i) => ({ timestampMillis: timestampsMillis[i] as number, value })),
          null,
          JSON.stringify(config),
        );
        return { name, timestampsMillis, anomalyScores: Array.from(scores), windows: [[timestampsMillis[s.window[0]] as number, timestampsMillis[s.window[1]] as number]] };
      }),
    );
  };
}

const smallGrid: NestedCoordinate[] = [
  { name: 'suppressRows', values: [{ suppressRows: 300 }, { suppressRows: 150 }] },
  { name: 'shortRows', values: [{ shortRows: 10 }, { shortRows: 6 }, { shortRows: 2 }] },
  { name: 'fireSurprise', values: [{ fireSurprise: Math.log(1e5) }, { fireSurprise: 6 }] },
  { name: 'spatialMargin', values: [{ spatialMargin: 0.05 }, { spatialMargin: 0.5 }] },
];

describe('nested leave-one-category-out search', () => {
  it('never lets the held-out category into its fold search: changing that category changes nothing of the fold', async () => {
    const base = corpus((c, k) => 450 + 30 * k + (c === 'b' ? 40 : 0));
    // Category c's series changed: anomalies elsewhere and a different shape.
    const changed = corpus((c, k) => (c === 'c' ? 250 + 20 * k : 450 + 30 * k + (c === 'b' ? 40 : 0))).map((s) =>
      categoryOf(s.name) === 'c' ? { ...s, values: s.values.map((v, i) => v * 3 + (i % 50 === 7 ? 25 : 0)) } : s,
    );
    const folds = leaveOneCategoryOut(base.map((s) => s.name));
    const askedBase: string[][] = [];
    const askedChanged: string[][] = [];
    const first = await searchNested(folds, smallGrid, evaluatorOf(base, askedBase), 2);
    const second = await searchNested(folds, smallGrid, evaluatorOf(changed, askedChanged), 2);

    // The search only ever asks for one fold's training files.
    for (const names of [...askedBase, ...askedChanged]) {
      const fold = folds.find((f) => JSON.stringify(f.train) === JSON.stringify(names));
      expect(fold).toBeDefined();
      expect(names.some((n) => categoryOf(n) === fold?.category)).toBe(false);
    }
    const c = (r: typeof first) => r.find((f) => f.category === 'c');
    expect(c(second)).toEqual(c(first));
    // The change is visible to the folds that train on category c: the test can fail.
    const others = (r: typeof first) => r.filter((f) => f.category !== 'c').map((f) => f.steps.map((s) => s.scores));
    expect(others(second)).not.toEqual(others(first));
    for (const f of first) {
      expect(f.steps.length).toBeGreaterThanOrEqual(smallGrid.length);
      expect(Number.isFinite(f.trainScore)).toBe(true);
    }
  });

  it('keeps the current value unless another scores strictly higher', async () => {
    const series = corpus((_, k) => 450 + 30 * k);
    const folds = leaveOneCategoryOut(series.map((s) => s.name));
    // Two values that give the same scores (the constant is unused without a model).
    const grid: NestedCoordinate[] = [{ name: 'modelWeight', values: [{ modelWeight: 1 }, { modelWeight: 0.25 }] }];
    const result = await searchNested(folds, grid, evaluatorOf(series, []), 2);
    for (const f of result) {
      expect(f.chosen).toEqual({ modelWeight: 1 });
      expect(f.steps).toHaveLength(1); // nothing changed in the first pass: no second
    }
  });
});

async function writeCorpus(series: readonly Series[]): Promise<{ data: string; labels: string }> {
  const data = join(dir, 'data');
  const windows: Record<string, string[][]> = {};
  for (const s of series) {
    await mkdir(join(data, categoryOf(s.name)), { recursive: true });
    await writeFile(join(data, s.name), `timestamp,value\n${s.values.map((v, i) => `${stamp(i)},${v.toFixed(4)}`).join('\n')}\n`);
    windows[s.name] = [[`${stamp(s.window[0])}.000000`, `${stamp(s.window[1])}.000000`]];
  }
  const labels = join(dir, 'windows.json');
  await writeFile(labels, JSON.stringify(windows));
  return { data, labels };
}

describe('runNestedNabCrossValidation', () => {
  it('searches per fold on both paths, scores the held-out category, and reuses the model traces', async () => {
    const series = corpus((c, k) => 450 + 30 * k + (c === 'b' ? 40 : 0)).filter((s) => s.name.endsWith('s0.csv'));
    const { data, labels } = await writeCorpus(series);
    const outDir = join(dir, 'out');
    const grid = (withModel: boolean): NestedCoordinate[] => [...smallGrid.slice(0, 2), ...(withModel ? [{ name: 'modelWeight', values: [{ modelWeight: 1 }, { modelWeight: 0.25 }] }] : [])];
    const report = await runNestedNabCrossValidation({ dataDir: data, labelsPath: labels, outDir, withModel: true, concurrency: 1, passes: 1, grid });
    expect(report.model).not.toBeNull();
    for (const path of [report.statsOnly, report.model!]) {
      expect(path.searches.map((s) => s.category)).toEqual(['a', 'b', 'c']);
      for (const p of path.cv.profiles) {
        expect(p.folds.map((f) => f.category)).toEqual(['a', 'b', 'c']);
        expect(p.pooled).toBeGreaterThan(-200);
        expect(p.pooled).toBeLessThanOrEqual(100);
      }
    }
    expect(report.model!.searches.every((s) => 'modelWeight' in s.chosen)).toBe(true);
    expect(report.statsOnly.searches.every((s) => !('modelWeight' in s.chosen))).toBe(true);
    expect(report.fullPaths).toHaveLength(3);
    const trace = join(outDir, 'nested', 'traces', 'a', 's0.csv.trace');
    const before = (await stat(trace)).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const again = await runNestedNabCrossValidation({ dataDir: data, labelsPath: labels, outDir, withModel: true, concurrency: 1, passes: 1, grid });
    expect((await stat(trace)).mtimeMs).toBe(before);
    expect(again.model!.cv.profiles).toEqual(report.model!.cv.profiles);
  });

  it('scores a file from its cached trace exactly as a direct `bench nab` run with the same constants', async () => {
    const values = Array.from({ length: 2500 }, (_, i) => 50 + 20 * Math.sin((2 * Math.PI * i) / 288) + 3 * Math.sin(i * 12.9898) + (i === 2450 ? 60 : 0) + (i > 1500 && i < 1540 ? 25 : 0));
    const { data } = await writeCorpus([{ name: 'a/long.csv', values, window: [2440, 2460] }]);
    const input = join(data, 'a', 'long.csv');
    const runner = new NestedJobRunner();
    const tracePath = join(dir, 'long.trace');
    await runner.run({ kind: 'trace', dataPath: input, tracePath });
    for (const overrides of [{}, { shortRows: 10, modelWeight: 1, levelDays: 1, suppressFactor: 0, keepModelScale: 0 }]) {
      const json = JSON.stringify(overrides);
      applyTuningOverrides(json);
      const out = join(dir, 'direct.csv');
      const result = await detectFile(input, out, { detectorOptions: { useModel: true, algorithm: 'legacy' } });
      applyTuningOverrides(undefined);
      expect(result.modelVersion).toBe('mlp-v2');
      const direct = await readResultFile(out, 'a/long.csv', []);
      const fresh = new NestedJobRunner(); // reads the trace from disk
      const replayed = await fresh.run({ kind: 'score', dataPath: input, tracePath, overrides: json });
      expect(replayed.kind === 'score' ? Array.from(replayed.scores) : null).toEqual(direct.anomalyScores);
    }
    expect((await readFile(tracePath)).byteLength).toBe(8 * (1 + 3 * 2500));
  });
});

describe('joint gate coordinate', () => {
  it('merges the gate constants into one first coordinate: every combination with gates on, one with gates off', async () => {
    const { joinGates, nestedGrid, startConfig } = await import('../../src/nab/index.js');
    const model = nestedGrid(true, true);
    expect(model[0]?.name).toBe('gateBlock');
    expect(model[0]?.values).toHaveLength(3 * 3 * 3 * 3 + 1);
    expect(model.map((c) => c.name)).not.toContain('modelGateZ');
    expect(model.slice(1).map((c) => c.name)).toEqual(nestedGrid(true).filter((c) => !['gates', 'rarity', 'rarityDamp', 'modelGateZ', 'modelGateDamp'].includes(c.name)).map((c) => c.name));
    expect(startConfig(model)).toEqual(startConfig(nestedGrid(true)));
    expect(joinGates(nestedGrid(false))[0]?.values).toHaveLength(3 * 3 + 1);
    const keys = new Set(model[0]?.values.map((v) => JSON.stringify(Object.keys(v).sort())));
    expect(keys.size).toBe(1); // every value sets the same keys
  });
});

describe('search on every category (the rule\'s check of product defaults)', () => {
  it('is one fold-style search whose training set is every category, nothing held out', async () => {
    const series = corpus((c, k) => 450 + 30 * k + (c === 'b' ? 40 : 0));
    const { data, labels } = await writeCorpus(series);
    const names = await listCsvFiles(data);
    const result = await searchAllCategories({ dataDir: data, labelsPath: labels, outDir: join(dir, 'out'), withModel: false, concurrency: 1, passes: 2, grid: () => smallGrid });
    // The same series as written to the CSV files (4 decimals), searched directly on all of them.
    const written = series.map((s) => ({ ...s, values: s.values.map((v) => Number(v.toFixed(4))) }));
    const asked: string[][] = [];
    const [direct] = await searchNested([{ category: 'all', train: names, test: [] }], smallGrid, evaluatorOf(written, asked), 2);
    expect(result.path).toBe('stats');
    expect(result.search).toEqual(direct);
    expect(new Set(names.map(categoryOf))).toEqual(new Set(['a', 'b', 'c']));
    // A three-category fold sees other scores: the comparison above can fail.
    const [fold] = await searchNested(leaveOneCategoryOut(names).slice(0, 1), smallGrid, evaluatorOf(written, []), 2);
    expect(fold?.steps.map((s) => s.scores)).not.toEqual(direct?.steps.map((s) => s.scores));
  });

  it('rejects an unknown coordinate to drop before any work, naming it', async () => {
    const { data, labels } = await writeCorpus(corpus(() => 450).slice(0, 3));
    await expect(searchAllCategories({ dataDir: data, labelsPath: labels, outDir: join(dir, 'out'), withModel: true, concurrency: 1, drop: ['levels'] })).rejects.toThrow(/unknown coordinate\(s\) to drop: levels/);
  });

  it('keeps the fixed-rate level coordinate a fixed-rate level whatever the default (levelLearn 0 in each value)', () => {
    const level = nestedGrid(true).find((c) => c.name === 'level');
    expect(level?.values.map((v) => v.levelLearn)).toEqual([0, 0, 0]);
  });
});
