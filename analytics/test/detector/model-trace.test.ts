import { afterEach, describe, expect, it } from 'vitest';
import { applyTuningOverrides, decodeModelTrace, defaultDetectorOptions, emptyModelTrace, encodeModelTrace, principledTuning, scoreSeries, StreamingDetector } from '../../src/detector/index.js';
import { fastModel, generatedSeries } from './series.js';

afterEach(() => applyTuningOverrides(undefined));

const options = { ...defaultDetectorOptions, ...fastModel, useModel: true };

/** Post-processing constants a nested search may pick; none of them changes the model's forecasts. */
const overrideSets: Array<Record<string, number>> = [
  {},
  { ...principledTuning },
  { keepModelScale: 0, modelWeight: 1, modelGateZ: 2, modelGateDamp: 0.1 },
  { gates: 0, logRaw: 1, shortRows: 4, longRate: 0.005, fireSurprise: 9, suppressFactor: 0.2, suppressRows: 150, errorScaleRate: 0.0005, levelRate: 0.1, rarityCount: 50, rarityDamp: 0.75 },
];

describe('model trace', () => {
  it('replays the model so that any post-processing constants give bit-identical scores to a direct run', async () => {
    const rows = [...generatedSeries(700, 500)];
    for (let i = 600; i < 640; i += 1) (rows[i] as { value: number }).value += 35; // a level shift
    // Recorded once, with the product's constants.
    const trace = emptyModelTrace();
    const recorder = new StreamingDetector(options);
    recorder.attachModelTrace(trace, 'record');
    await scoreSeriesWith(recorder, rows);
    expect(trace.versions).toHaveLength(rows.length);
    expect(new Set(trace.versions).size).toBeGreaterThan(3); // several retrains are replayed
    const restored = decodeModelTrace(encodeModelTrace(trace), 'test');
    expect(restored.predictions.map(String)).toEqual(trace.predictions.map(String)); // NaN survives the encoding

    for (const overrides of overrideSets) {
      applyTuningOverrides(JSON.stringify(overrides));
      const direct = (await scoreSeries(rows, options)).map((o) => o.score);
      const replayer = new StreamingDetector(options);
      replayer.attachModelTrace(restored, 'replay');
      const replayed = rows.map((r) => {
        const out = replayer.update(r.timestampMillis, r.value).score;
        expect(replayer.trainingRequest()).toBeNull();
        return out;
      });
      expect(replayed).toEqual(direct);
      expect(direct.some((s) => s > 0.5)).toBe(true);
    }
  });

  it('differs from the statistics-only detector, so the replayed model is really used', async () => {
    const rows = generatedSeries(700, 500);
    const trace = emptyModelTrace();
    const recorder = new StreamingDetector(options);
    recorder.attachModelTrace(trace, 'record');
    const recorded = await scoreSeriesWith(recorder, rows);
    const stats = (await scoreSeries(rows, { ...options, useModel: false })).map((o) => o.score);
    expect(recorded).not.toEqual(stats);
  });

  it('is attached before the first row only, and a short trace is a clear error', async () => {
    const rows = generatedSeries(200);
    const d = new StreamingDetector(options);
    d.update(rows[0]!.timestampMillis, rows[0]!.value);
    expect(() => d.attachModelTrace(emptyModelTrace(), 'replay')).toThrow(/before its first row/);
    const r = new StreamingDetector(options);
    r.attachModelTrace({ versions: [0], predictions: [Number.NaN], scales: [Number.NaN] }, 'replay');
    r.update(rows[0]!.timestampMillis, rows[0]!.value);
    expect(() => r.update(rows[1]!.timestampMillis, rows[1]!.value)).toThrow(/model trace has 1 rows/);
    expect(() => decodeModelTrace(new Float64Array([5, 1]), 'x.trace')).toThrow(/x.trace: not a model trace/);
  });
});

async function scoreSeriesWith(detector: StreamingDetector, rows: ReadonlyArray<{ timestampMillis: number; value: number }>): Promise<number[]> {
  const { updateAndTrain } = await import('../../src/detector/index.js');
  const out: number[] = [];
  for (const row of rows) out.push((await updateAndTrain(detector, row)).score);
  return out;
}
