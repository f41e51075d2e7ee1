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

  it('follows the series object to its entry, and neither a deleted entry nor another instance is written through it', () => {
    const columns = (t: number, v: number): ReturnType<typeof metricColumns> => metricColumns([point({ name: 'a', t, v })]);
    const first = columns(1_000, 1);
    const series = first.series[0] as (typeof first.series)[number];
    const latest = new LatestValues();
    latest.update(first);
    expect(series.latest).toBe(latest.get(series.key));
    // The same series object again: its entry is updated in place.
    latest.update({ ...columns(2_000, 2), series: [series] });
    expect(latest.get(series.key)?.value).toBe(2);
    // Deleted (retention), then a new point through the same object: back in the map, not lost on the old entry.
    latest.delete([series.key]);
    expect(latest.size).toBe(0);
    latest.update({ ...columns(3_000, 3), series: [series] });
    expect(latest.size).toBe(1);
    expect(latest.get(series.key)?.value).toBe(3);
    // A second instance fed the same series objects keeps its own entries.
    const other = new LatestValues();
    other.update({ ...columns(4_000, 4), series: [series] });
    latest.update({ ...columns(5_000, 5), series: [series] });
    expect(other.get(series.key)?.value).toBe(4);
    expect(latest.get(series.key)?.value).toBe(5);
  });
});
