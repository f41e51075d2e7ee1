import { describe, expect, it } from 'vitest';
import type { ForecastBenchReport, SeriesBenchResult } from '../../src/forecast/benchmark.js';
import { crossValidateForecast, type ForecastCvConfig } from '../../src/forecast/crossValidation.js';

/** A backtest of one series: Sloth's MASE, and intervals of half-width `halfWidth` around a p50 of 0 for actuals −10..9. */
function series(file: string, slothMase: number, halfWidth: number): SeriesBenchResult {
  const actual = Array.from({ length: 20 }, (_, i) => i - 10);
  return {
    file,
    points: 1000,
    stepMillis: 300_000,
    seasonSteps: 288,
    originsUsed: 1,
    scores: { sloth: { mase: slothMase, smape: 1, coverage: 0 }, 'seasonal-naive': { mase: 1, smape: 1 }, ses: { mase: 0.8, smape: 1 }, 'holt-winters': { mase: 0.9, smape: 1 } },
    selectedModels: ['x'],
    slothFitMillis: 1,
    slothOrigins: [{ actual, p50: actual.map(() => 0), p10: actual.map(() => -halfWidth), p90: actual.map(() => halfWidth) }],
  };
}

function report(list: SeriesBenchResult[]): ForecastBenchReport {
  return { settings: { horizon: 20, origins: 1, maxHistoryPoints: 4032 }, series: list, summary: {} as ForecastBenchReport['summary'], skipped: [] };
}

describe('forecast cross-validation', () => {
  it('chooses the configuration and the interval scale on the other category only', () => {
    // "a" forecasts category A well and B badly; "b" the reverse. Intervals of half-width 4 cover
    // 9 of 20 actuals (−4..4); ×2 → 17 of 20 (85 %), ×1.8 → 15 (75 %): the 80 % target picks one of those.
    const a = report([series('/d/realA/1.csv', 0.2, 4), series('/d/realA/2.csv', 0.2, 4), series('/d/realB/1.csv', 2, 4)]);
    const b = report([series('/d/realA/1.csv', 2, 4), series('/d/realA/2.csv', 2, 4), series('/d/realB/1.csv', 0.2, 4)]);
    const cv = crossValidateForecast([
      { name: 'a', report: a },
      { name: 'b', report: b },
    ]);
    expect(cv.folds.map((f) => [f.category, f.chosenConfig])).toEqual([
      ['realA', 'b'],
      ['realB', 'a'],
    ]);
    // Out of fold each category gets the configuration that is bad for it.
    expect(cv.folds[0]?.heldOut.geometricMeanMase.sloth).toBeCloseTo(2, 10);
    expect(cv.pooled.geometricMeanMase.sloth).toBeCloseTo(2, 10);
    expect(cv.pooled.bestBaseline).toBe('ses');
    expect(cv.pooled.ratioToBestBaseline).toBeCloseTo(2 / 0.8, 10);
    for (const f of cv.folds) {
      expect([1.8, 2]).toContain(f.chosenIntervalScale);
      expect(f.heldOut.coverage).toBeCloseTo(f.chosenIntervalScale === 2 ? 17 / 20 : 15 / 20, 10);
    }
  });

  it('never lets the held-out category sway a fold: any number of configurations, held-out scores changed at will', () => {
    const files = ['/d/realA/1.csv', '/d/realA/2.csv', '/d/realB/1.csv', '/d/realB/2.csv', '/d/realC/1.csv'];
    const categoryOf = (f: string): string => f.split('/')[2] as string;
    // Five configurations (as `--cv` offers): MASE and interval width vary per configuration and series.
    const mase = (c: number, i: number): number => 0.3 + ((c * 7 + i * 3) % 11) / 10;
    const width = (c: number, i: number): number => 2 + ((c * 5 + i) % 7);
    const build = (heldOut: string | null, boost: number): ForecastCvConfig[] =>
      [0, 1, 2, 3, 4].map((c) => ({
        name: `config-${c}`,
        // On the held-out category, configuration `boost` becomes far better (and its intervals exact):
        // a splitter that peeked would choose it.
        report: report(files.map((f, i) => (categoryOf(f) === heldOut ? series(f, c === boost ? 0.01 : 5, c === boost ? 10 : 1) : series(f, mase(c, i), width(c, i))))),
      }));
    const plain = crossValidateForecast(build(null, -1));
    expect(plain.folds.map((f) => f.category)).toEqual(['realA', 'realB', 'realC']);
    for (const fold of plain.folds) {
      for (let boost = 0; boost < 5; boost++) {
        const swayed = crossValidateForecast(build(fold.category, boost)).folds.find((f) => f.category === fold.category);
        expect(swayed?.chosenConfig).toBe(fold.chosenConfig);
        expect(swayed?.chosenIntervalScale).toBe(fold.chosenIntervalScale);
        expect(swayed?.trainCoverageAtScale).toBe(fold.trainCoverageAtScale);
      }
    }
  });
});
