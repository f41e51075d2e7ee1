import { describe, expect, it } from 'vitest';
import { SeriesLimiter, type StoredSeries } from '../src/limits-series.js';
import { metricColumns, type MetricSeries } from '../src/records.js';
import { point } from './store/fixtures.js';

/** The store's series bookkeeping, as far as the limiter reads it. */
class StoredKeys implements StoredSeries {
  readonly keys = new Map<string, string>();
  hasSeries(seriesKey: string): boolean {
    return this.keys.has(seriesKey);
  }
  seriesCount(agentId?: string): number {
    return agentId === undefined ? this.keys.size : [...this.keys.values()].filter((a) => a === agentId).length;
  }
}

function series(name: string, agentId = 'a'): MetricSeries {
  return metricColumns([point({ name, agentId, t: 1, v: 1 })]).series[0] as MetricSeries;
}

describe('SeriesLimiter', () => {
  it('admits up to the per-agent limit, counting admitted series not yet stored', () => {
    const stored = new StoredKeys();
    const limiter = new SeriesLimiter({ maxSeriesPerAgent: 2, stored });
    const [x, y, z] = [series('x'), series('y'), series('z')];
    expect([limiter.admit(x), limiter.admit(y), limiter.admit(z)]).toEqual([true, true, false]);
    // Another agent has its own budget.
    expect(limiter.admit(series('z', 'b'))).toBe(true);
    expect(limiter.activeSeries()).toBe(3);
    // Once stored, the series count comes from the store and is not counted twice.
    stored.keys.set(x.key, 'a');
    stored.keys.set(y.key, 'a');
    limiter.markStored(metricColumns([point({ name: 'x', agentId: 'a', t: 1, v: 1 }), point({ name: 'y', agentId: 'a', t: 1, v: 1 })]));
    expect(limiter.activeSeries()).toBe(3);
    expect(limiter.admit(series('z'))).toBe(false);
  });

  it('marks admitted series objects, and clears the mark when retention removed the series', () => {
    const stored = new StoredKeys();
    const limiter = new SeriesLimiter({ maxSeriesPerAgent: 1, stored });
    const x = series('x');
    expect(limiter.admit(x)).toBe(true);
    expect(x.admitted).toBe(true);
    stored.keys.set(x.key, 'a');
    limiter.markStored(metricColumns([point({ name: 'x', agentId: 'a', t: 1, v: 1 })]));
    // Retention removed x; the agent is under its limit again, and y takes the place.
    stored.keys.delete(x.key);
    limiter.forget([x.key]);
    expect(x.admitted).toBe(false);
    const y = series('y');
    expect(limiter.admit(y)).toBe(true);
    // x no longer skips the check: with y pending, the agent is at its limit.
    expect(limiter.admit(x)).toBe(false);
  });
});
