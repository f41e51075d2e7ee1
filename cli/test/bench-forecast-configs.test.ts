import { describe, expect, it } from 'vitest';
import { statisticalForecastOptions } from '@sloth/analytics';
import { statisticalCvConfigs } from '../src/commands/bench-forecast.js';

describe('sloth bench forecast --cv configurations', () => {
  it('are the ones rules F1 and F2 fixed, each setting its models, triple averages and seasonal adjustment itself (never inherited from the default)', () => {
    const classical = ['seasonal-naive', 'holt-winters', 'ets', 'seasonal-profile'];
    expect(statisticalCvConfigs.map((c) => [c.name, [...c.options.models], c.options.tripleEnsembles, c.options.seasonalAdjustment])).toEqual([
      ['statistical', classical, false, false],
      ['statistical+ses', [...classical, 'ses'], false, false],
      ['statistical+ses+theta', [...classical, 'ses', 'theta'], false, false],
      ['statistical+ses+theta+comb', [...classical, 'ses', 'theta', 'comb'], false, false],
      ['statistical+ses+theta+comb+triples', [...classical, 'ses', 'theta', 'comb'], true, false],
      ['statistical+ses+theta+comb+triples+sa', [...classical, 'ses', 'theta', 'comb'], true, true],
    ]);
    expect(statisticalCvConfigs.every((c) => !c.options.models.includes('mlp'))).toBe(true);
  });

  it("`sloth forecast --no-mlp` runs the configuration both folds chose in rule F2's run", () => {
    const chosen = statisticalCvConfigs.find((c) => c.name === 'statistical+ses+theta+comb+triples+sa');
    expect([...statisticalForecastOptions.models]).toEqual([...(chosen?.options.models ?? [])]);
    expect(statisticalForecastOptions.tripleEnsembles).toBe(chosen?.options.tripleEnsembles);
    expect(statisticalForecastOptions.seasonalAdjustment).toBe(chosen?.options.seasonalAdjustment);
  });
});
