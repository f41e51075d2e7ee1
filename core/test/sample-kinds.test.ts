import { describe, expect, it } from 'vitest';
import { anomalyEventSchema, decodeSampleColumns, encodeSampleBatch } from '../src/index.js';

const base = { agentId: 'a', timestampMillis: 1_000 };

describe('samples batch kinds column', () => {
  it('round-trips per-sample kinds, and one letter when the batch shares a kind', () => {
    const mixed = encodeSampleBatch([
      { ...base, seriesId: 'x', value: 1, kind: 'cumulative' },
      { ...base, seriesId: 'y', value: 2, kind: 'gauge' },
      { ...base, seriesId: 'z', value: 3, kind: 'delta' },
    ]);
    expect(JSON.parse(mixed[1]!).k).toBe('cgd');
    expect(decodeSampleColumns(mixed).kinds).toEqual(['cumulative', 'gauge', 'delta']);
    const uniform = encodeSampleBatch([{ ...base, seriesId: 'x', value: 1, kind: 'delta' }, { ...base, seriesId: 'y', value: 2, kind: 'delta' }]);
    expect(JSON.parse(uniform[1]!).k).toBe('d');
    expect(decodeSampleColumns(uniform).kinds).toEqual(['delta', 'delta']);
  });

  it('decodes entries without the column as before (no kinds), and keeps kinds aligned when a bad sample is left out', () => {
    const old = encodeSampleBatch([{ ...base, seriesId: 'x', value: 1 }]);
    expect(JSON.parse(old[1]!)).not.toHaveProperty('k');
    expect(decodeSampleColumns(old)).not.toHaveProperty('kinds');
    const text = JSON.stringify({ s: ['x', '', 'z'], a: 'a', t: 5, k: 'cgd', v: [1, 2, 3] });
    const bad: number[] = [];
    const columns = decodeSampleColumns(['b', text], (problem) => bad.push(problem.index));
    expect(bad).toEqual([1]);
    expect(columns.seriesIds).toEqual(['x', 'z']);
    expect(columns.kinds).toEqual(['cumulative', 'delta']);
  });

  it('names the offending value of a bad kinds column', () => {
    const text = JSON.stringify({ s: ['x', 'y'], a: 'a', t: 5, k: 'cq', v: [1, 2] });
    expect(() => decodeSampleColumns(['b', text])).toThrow(/"q" at 1; use g \(gauge\), c \(cumulative\) or d \(delta\)/);
    const short = JSON.stringify({ s: ['x', 'y', 'z'], a: 'a', t: 5, k: 'cg', v: [1, 2, 3] });
    expect(() => decodeSampleColumns(['b', short])).toThrow(/"k" \(sample kinds\) must be one letter/);
  });
});

describe('anomaly event incident fields', () => {
  const event = { seriesId: 's', agentId: 'a', metric: 'm', timestampMillis: 1, value: 2, score: 0.9, expectedLow: 0, expectedHigh: 1, modelVersion: 'stats' };
  it('parses transitions with incident fields and entries written before they existed', () => {
    expect(anomalyEventSchema.parse({ ...event, incidentId: 'i1', state: 'open', direction: 'above', firstSeenMillis: 1, peakScore: 0.9 })).toMatchObject({ state: 'open', direction: 'above' });
    expect(anomalyEventSchema.parse(event)).not.toHaveProperty('state');
    expect(anomalyEventSchema.safeParse({ ...event, state: 'closed' }).success).toBe(false);
    expect(anomalyEventSchema.safeParse({ ...event, direction: 'sideways' }).success).toBe(false);
  });
});
