import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { forecastSeries, loadMlp, trainMlp, type SerializedMlp } from '@sloth/analytics';
import { dailySeasonal } from './synthetic.js';

describe('MLP forecaster', () => {
  it('survives a save / JSON / load round trip with identical forecasts', async () => {
    const values = Float64Array.from(dailySeasonal(24 * 20, { noise: 1 }).values);
    const model = await trainMlp(values, values.length, 24, 6, { epochs: 5, seed: 3 });
    expect(model).toBeDefined();
    if (model === undefined) return;
    const origins = [values.length - 1, values.length - 30, values.length - 100];
    const before = model.forecastFrom(values, origins, 6);
    const saved = JSON.parse(JSON.stringify(await model.save())) as SerializedMlp;
    model.dispose();
    expect(saved.format).toBe('sloth-mlp-v1');
    expect(saved.config).toMatchObject({ periodSteps: 24, horizon: 6 });
    const restored = await loadMlp(saved);
    const after = restored.forecastFrom(values, origins, 6);
    restored.dispose();
    expect(after.map((f) => Array.from(f))).toEqual(before.map((f) => Array.from(f)));
    // And the forecasts are meaningful: near the daily sine, not a constant.
    const next = Array.from(before[0] as Float64Array);
    next.forEach((v, k) => expect(Math.abs(v - (100 + 20 * Math.sin((2 * Math.PI * (values.length + k)) / 24)))).toBeLessThan(8));
  });

  it('is reproducible for a given seed', async () => {
    const values = Float64Array.from(dailySeasonal(24 * 10, { noise: 1, seed: 9 }).values);
    const a = await trainMlp(values, values.length, 24, 3, { epochs: 3, seed: 5 });
    const b = await trainMlp(values, values.length, 24, 3, { epochs: 3, seed: 5 });
    const fa = a?.forecastFrom(values, [values.length - 1], 3)[0];
    const fb = b?.forecastFrom(values, [values.length - 1], 3)[0];
    a?.dispose();
    b?.dispose();
    expect(fa).toBeDefined();
    expect(Array.from(fa ?? [])).toEqual(Array.from(fb ?? []));
  });

  it('refuses a horizon longer than it was trained for, and an unknown saved format', async () => {
    const values = Float64Array.from(dailySeasonal(24 * 10).values);
    const model = await trainMlp(values, values.length, 24, 3, { epochs: 1 });
    expect(() => model?.forecastFrom(values, [values.length - 1], 4)).toThrow(/trained for 3 steps ahead, not 4/);
    const saved = await model?.save();
    model?.dispose();
    await expect(loadMlp({ ...(saved as SerializedMlp), format: 'other' as 'sloth-mlp-v1' })).rejects.toThrow(/unknown saved model format "other"/);
  });

  it('leaves no tensors behind after training, forecasting, saving and disposing (and after forecastSeries)', async () => {
    const values = Float64Array.from(dailySeasonal(24 * 10, { seed: 4 }).values);
    await trainMlp(values, values.length, 24, 3, { epochs: 1 }).then((m) => m?.dispose());
    const before = tf.memory().numTensors;
    const model = await trainMlp(values, values.length, 24, 3, { epochs: 2 });
    model?.forecastFrom(values, [values.length - 1], 3);
    const saved = await model?.save();
    model?.dispose();
    const restored = await loadMlp(saved as SerializedMlp);
    restored.forecastFrom(values, [values.length - 1], 3);
    restored.dispose();
    const series = dailySeasonal(24 * 10, { seed: 8 });
    await forecastSeries(series.timestamps, series.values, 3, { mlpEpochs: 1 });
    expect(tf.memory().numTensors).toBe(before);
  });
});
