import { describe, expect, it } from 'vitest';
import { LatestValues } from '../src/latest-values.js';
import { metricColumns } from '../src/records.js';
import { point } from './store/fixtures.js';

describe('LatestValues', () => {
  it('keeps the newest point per series, seeded from initial points', () => {
    const a1 = point({ name: 'a', t: 1_000, v: 1 });
    const latest = new LatestValues([a1, point({ name: 'b', t: 1_000, v: 10 })]);
    expect(latest.size).toBe(2);
    latest.update(metricColumns([point({ name: 'a', t: 3_000, v: 3 }), point({ name: 'a', t: 2_000, v: 2 })]));
    expect(latest.get(a1.seriesKey)?.value).toBe(3);
    latest.update(metricColumns([point({ name: 'a', t: 3_000, v: 4 })]));
    expect(latest.get(a1.seriesKey)?.value).toBe(4);
    expect([...latest.entries()].map((p) => [p.name, p.value])).toEqual([
      ['a', 4],
      ['b', 10],
    ]);
    latest.delete([a1.seriesKey]);
    expect(latest.size).toBe(1);
  });
});
