import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricPoint } from '../../src/records.js';
import type { SeriesAggregation } from '../../src/store/series-aggregation.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { batch, point } from './fixtures.js';

// Server-side aggregation (issue 18 item 3) must equal what a client computes from the same raw points.
const t0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const hour = 3_600_000;
let dir: string;
let store: SqliteStore;
/** What was written, per series key, after later writes replaced earlier ones: the client's copy of the data. */
const written = new Map<string, { labels: Record<string, string>; points: Map<number, number> }>();

/** A small deterministic generator (tests must not depend on Math.random). */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

function remember(points: readonly MetricPoint[]): void {
  for (const p of points) {
    const entry = written.get(p.seriesKey) ?? { labels: { ...p.labels }, points: new Map<number, number>() };
    written.set(p.seriesKey, entry);
    entry.points.set(p.timestampMillis, p.value ?? Number.NaN);
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-aggregate-'));
  store = SqliteStore.open({ dataDir: dir, retentionMillis: 3650 * 86_400_000, pruneIntervalMillis: 0 });
  const random = generator(42);
  const first: MetricPoint[] = [];
  for (const agentId of ['host-a', 'host-b', 'host-c']) {
    for (const state of ['user', 'system']) {
      for (let t = t0 - 60_000; t < t0 + hour + 60_000; t += 10_000) {
        const r = random();
        if (r < 0.05) continue; // a gap
        const jitter = Math.floor(random() * 3_000);
        first.push(point({ name: 'cpu', agentId, labels: { state }, t: t + jitter, ...(r < 0.08 ? {} : { v: Math.round(random() * 10_000) / 100 }) }));
      }
    }
  }
  // host-c's system series only starts half-way: groups and counts change over time.
  const points = first.filter((p) => !(p.agentId === 'host-c' && p.labels.state === 'system' && p.timestampMillis < t0 + hour / 2));
  store.write([batch({ metrics: points.slice(0, points.length / 2) })], 1);
  store.write([batch({ metrics: points.slice(points.length / 2) })], 2);
  remember(points);
  // A later write replaces some values (same timestamps): the last write wins, as in /samples.
  const rewrites = points.filter((_, i) => i % 17 === 0).map((p) => ({ ...p, value: -1 * (p.value ?? 1) }));
  store.write([batch({ metrics: rewrites })], 3);
  remember(rewrites);
  store.write([batch({ metrics: [point({ name: 'latency', kind: 'histogram', t: t0, count: 2, sum: 3, bounds: [1], bucketCounts: [1, 1] })] })], 4);
});

afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The client-side computation: each series' last real value per step, combined per group. */
function clientAggregate(agg: Exclude<SeriesAggregation, 'rate'>, by: readonly string[], from: number, to: number, step: number): Array<{ labels: Record<string, string>; points: Array<{ t: number; v: number }> }> {
  const groups = new Map<string, { labels: Record<string, string>; perStep: Map<number, number[]> }>();
  for (const { labels, points } of written.values()) {
    if (!('state' in labels)) continue;
    const groupLabels = Object.fromEntries(by.map((name) => [name, labels[name] ?? '']));
    const key = JSON.stringify(groupLabels);
    const group = groups.get(key) ?? { labels: groupLabels, perStep: new Map<number, number[]>() };
    groups.set(key, group);
    const sorted = [...points.entries()].filter(([t, v]) => t >= from && t <= to && !Number.isNaN(v)).sort((a, b) => a[0] - b[0]);
    const lastPerStep = new Map<number, number>();
    for (const [t, v] of sorted) lastPerStep.set(from + Math.floor((t - from) / step) * step, v);
    for (const [stepStart, v] of lastPerStep) group.perStep.set(stepStart, [...(group.perStep.get(stepStart) ?? []), v]);
  }
  const combine = (values: number[]): number => {
    switch (agg) {
      case 'sum':
        return values.reduce((a, b) => a + b, 0);
      case 'avg':
        return values.reduce((a, b) => a + b, 0) / values.length;
      case 'min':
        return Math.min(...values);
      case 'max':
        return Math.max(...values);
      case 'count':
        return values.length;
    }
  };
  return [...groups.values()]
    .map((g) => ({ labels: g.labels, points: [...g.perStep.entries()].sort((a, b) => a[0] - b[0]).map(([t, values]) => ({ t, v: combine(values) })) }))
    .sort((a, b) => (JSON.stringify(by.map((n) => a.labels[n])) < JSON.stringify(by.map((n) => b.labels[n])) ? -1 : 1));
}

describe('store.aggregate equals a client-side computation', () => {
  const cases: Array<[Exclude<SeriesAggregation, 'rate'>, string[]]> = [];
  for (const agg of ['sum', 'avg', 'min', 'max', 'count'] as const) for (const by of [[], ['agent'], ['state'], ['agent', 'state']]) cases.push([agg, by]);

  it.each(cases)('%s by %j over 1 h at 10 s and 60 s steps', (agg, by) => {
    for (const step of [10_000, 60_000]) {
      const from = t0;
      const to = t0 + hour - 1;
      const result = store.aggregate({ name: 'cpu', agg, by, fromMillis: from, toMillis: to, stepMillis: step });
      const expected = clientAggregate(agg, by, from, to, step);
      expect(result.series).toBe(6);
      expect(result.groups.map((g) => g.labels)).toEqual(expected.map((g) => g.labels));
      result.groups.forEach((group, i) => {
        const want = expected[i]?.points ?? [];
        expect(group.points.map((p) => p.t)).toEqual(want.map((p) => p.t));
        group.points.forEach((p, k) => expect(p.v).toBeCloseTo(want[k]?.v ?? Number.NaN, 9));
      });
      expect(result.groups.reduce((n, g) => n + g.series, 0)).toBe(6);
    }
  });

  it('a range not aligned to the step, filters by agent and label', () => {
    const from = t0 + 7_777;
    const to = t0 + 20 * 60_000 + 3;
    const result = store.aggregate({ name: 'cpu', agg: 'max', by: ['state'], agentId: 'host-b', labels: { state: 'user' }, fromMillis: from, toMillis: to, stepMillis: 45_000 });
    expect(result.series).toBe(1);
    const hostB = [...written.values()].find((s) => s.labels.agent === 'host-b' && s.labels.state === 'user');
    const steps = new Map<number, number>();
    for (const [t, v] of [...(hostB?.points ?? [])].sort((a, b) => a[0] - b[0])) if (t >= from && t <= to && !Number.isNaN(v)) steps.set(from + Math.floor((t - from) / 45_000) * 45_000, v);
    expect(steps.size).toBeGreaterThan(20);
    expect(result.groups).toEqual([{ labels: { state: 'user' }, series: 1, points: [...steps].map(([t, v]) => ({ t, v })) }]);
  });

  it('an unknown metric gives no groups', () => {
    expect(store.aggregate({ name: 'nope', agg: 'sum', fromMillis: t0, toMillis: t0 + hour, stepMillis: 60_000 })).toEqual({ series: 0, groups: [] });
  });
});

describe('rate', () => {
  it('sums per-second increases across series and handles a counter reset', () => {
    const counter = (agentId: string, t: number, v: number): MetricPoint => point({ name: 'requests', kind: 'sum', monotonic: true, agentId, t, v });
    store.write(
      [
        batch({
          metrics: [
            // host-a: +60 per 10 s step, restarted at t0+25s (value drops to 15).
            counter('host-a', t0, 1_000),
            counter('host-a', t0 + 5_000, 1_030),
            counter('host-a', t0 + 10_000, 1_060),
            counter('host-a', t0 + 15_000, 1_090),
            counter('host-a', t0 + 20_000, 1_120),
            counter('host-a', t0 + 25_000, 15),
            counter('host-a', t0 + 30_000, 45),
            counter('host-a', t0 + 35_000, 75),
            // host-b: +20 per 10 s.
            counter('host-b', t0, 0),
            counter('host-b', t0 + 10_000, 20),
            counter('host-b', t0 + 20_000, 40),
            counter('host-b', t0 + 30_000, 60),
          ],
        }),
      ],
      10,
    );
    const total = store.aggregate({ name: 'requests', agg: 'rate', fromMillis: t0, toMillis: t0 + 39_999, stepMillis: 10_000 });
    // Step 0 (host-a: 1000→1030 = 30; host-b: first point, baseline only) = 3/s.
    // Step 1 (a: 1030→1060→1090 = 60; b: 0→20) = 8/s. Step 2 (a: 1090→1120, reset to 15 counts 15, total 45; b: 20) = 6.5/s.
    // Step 3 (a: 15→45→75 = 60; b: 20) = 8/s.
    expect(total.groups).toEqual([{ labels: {}, series: 2, points: [{ t: t0, v: 3 }, { t: t0 + 10_000, v: 8 }, { t: t0 + 20_000, v: 6.5 }, { t: t0 + 30_000, v: 8 }] }]);
    const perAgent = store.aggregate({ name: 'requests', agg: 'rate', by: ['agent'], fromMillis: t0, toMillis: t0 + 39_999, stepMillis: 20_000 });
    expect(perAgent.groups).toEqual([
      { labels: { agent: 'host-a' }, series: 1, points: [{ t: t0, v: 4.5 }, { t: t0 + 20_000, v: 5.25 }] },
      { labels: { agent: 'host-b' }, series: 1, points: [{ t: t0, v: 1 }, { t: t0 + 20_000, v: 2 }] },
    ]);
  });
});

describe('refusals', () => {
  it('rate on a gauge, a histogram metric and too many series are clear SLOTH_ERR_BAD_REQUEST errors', () => {
    const range = { fromMillis: t0, toMillis: t0 + hour, stepMillis: 60_000 };
    expect(() => store.aggregate({ name: 'cpu', agg: 'rate', ...range })).toThrow(expect.objectContaining({ code: 'SLOTH_ERR_BAD_REQUEST', message: expect.stringMatching(/agg "rate" needs a monotonic sum \(a counter\); metric "cpu" is a gauge/) }));
    expect(() => store.aggregate({ name: 'latency', agg: 'avg', ...range })).toThrow(/metric "latency" is a histogram; aggregation works on gauge and sum metrics/);
    expect(() => store.aggregate({ name: 'cpu', agg: 'avg', maxSeries: 5, ...range })).toThrow(/metric "cpu" has more than 5 series matching the filters; narrow them/);
  });
});
