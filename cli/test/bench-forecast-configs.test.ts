import { describe, expect, it } from 'vitest';
import { statisticalForecastOptions } from '@sloth/analytics';
import { statisticalCvConfigs } from '../src/commands/bench-forecast.js';

describe('sloth bench forecast --cv configurations', () => {
  it('are the ones rule F1 fixed, each setting its models and triple averages itself (never inherited from the default)', () => {
    const classical = ['seasonal-naive', 'holt-winters', 'ets', 'seasonal-profile'];
    expect(statisticalCvConfigs.map((c) => [c.name, [...c.options.models], c.options.tripleEnsembles])).toEqual([
      ['statistical', classical, false],
      ['statistical+ses', [...classical, 'ses'], false],
      ['statistical+ses+theta', [...classical, 'ses', 'theta'], false],
      ['statistical+ses+theta+comb', [...classical, 'ses', 'theta', 'comb'], false],
      ['statistical+ses+theta+comb+triples', [...classical, 'ses', 'theta', 'comb'], true],
    ]);
    expect(statisticalCvConfigs.every((c) => !c.options.models.includes('mlp'))).toBe(true);
  });

  it("`sloth forecast --no-mlp` runs the configuration both folds chose in rule F1's run (F1b)", () => {
    const chosen = statisticalCvConfigs.find((c) => c.name === 'statistical+ses+theta+comb+triples');
    expect([...statisticalForecastOptions.models]).toEqual([...(chosen?.options.models ?? [])]);
    expect(statisticalForecastOptions.tripleEnsembles).toBe(chosen?.options.tripleEnsembles);
  });
});
