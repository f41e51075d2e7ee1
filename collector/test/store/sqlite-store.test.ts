import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { LogRecordEntry, SpanRecord } from '../../src/records.js';
import { batch, point, resource } from './fixtures.js';

const day = 86_400_000;
let dir: string;
let store: SqliteStore;

function open(): SqliteStore {
  return SqliteStore.open({ dataDir: dir, retentionMillis: 7 * day, pruneIntervalMillis: 0 });
}

function span(overrides: Partial<SpanRecord>): SpanRecord {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: '',
    name: 'GET /',
    kind: 2,
    agentId: 'host-a',
    serviceName: 'web',
    startMillis: 1_000,
    endMillis: 1_250,
    statusCode: 0,
    statusMessage: '',
    attributes: { 'http.status_code': 200 },
    ...overrides,
  };
}

function log(overrides: Partial<LogRecordEntry>): LogRecordEntry {
  return {
    timestampMillis: 1_000,
    agentId: 'host-a',
    serviceName: 'web',
    severityNumber: 9,
    severityText: 'INFO',
    body: 'hello',
    traceId: '',
    spanId: '',
    attributes: {},
    ...overrides,
  };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-store-'));
  store = open();
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteStore', () => {
  it('creates <dataDir>/collector/sloth.db and starts at checkpoint 0', () => {
    expect(existsSync(join(dir, 'collector', 'sloth.db'))).toBe(true);
    expect(store.lastCheckpoint()).toBe(0);
    expect(store.seriesCount()).toBe(0);
  });

  it('writes batches and the checkpoint together, and keeps both across a reopen', () => {
    const cpuA = point({ name: 'system.cpu.utilization', agentId: 'host-a', labels: { state: 'user' }, unit: '1', t: 1_000, v: 0.25 });
    const cpuB = point({ name: 'system.cpu.utilization', agentId: 'host-b', labels: { state: 'user' }, unit: '1', t: 1_000, v: 0.5 });
    store.write([batch({ resources: [resource('host-a')], metrics: [cpuA] }), batch({ resources: [resource('host-b')], metrics: [cpuB] })], 42);
    store.write([batch({ metrics: [{ ...cpuA, timestampMillis: 2_000, value: 0.75 }] })], 57);
    expect(store.lastCheckpoint()).toBe(57);
    expect(store.seriesCount()).toBe(2);
    expect(store.seriesCount('host-a')).toBe(1);
    expect(store.seriesCount('host-c')).toBe(0);
    expect(store.hasSeries(cpuA.seriesKey)).toBe(true);
    expect(store.hasSeries('nope')).toBe(false);

    store.close();
    store = open();
    expect(store.lastCheckpoint()).toBe(57);
    expect(store.hasSeries(cpuB.seriesKey)).toBe(true);
    expect(store.seriesCount('host-b')).toBe(1);
    const latest = store.latestPoints().sort((a, b) => a.agentId.localeCompare(b.agentId));
    expect(latest.map((p) => [p.agentId, p.timestampMillis, p.value, p.unit, p.labels])).toEqual([
      ['host-a', 2_000, 0.75, '1', { state: 'user', agent: 'host-a' }],
      ['host-b', 1_000, 0.5, '1', { state: 'user', agent: 'host-b' }],
    ]);
    const agents = store.listAgents();
    expect(agents.map((a) => [a.id, a.principal, a.state, a.attributes['host.name']])).toEqual([
      ['host-a', 'test', 'up', 'host-a'],
      ['host-b', 'test', 'up', 'host-b'],
    ]);
  });

  it('rolls back the whole write (and the checkpoint) when one record cannot be stored', () => {
    const good = point({ name: 'a', t: 1_000, v: 1 });
    store.write([batch({ metrics: [good] })], 5);
    const bad = span({ attributes: { big: 10n } });
    const fresh = point({ name: 'b', t: 1_000, v: 2 });
    expect(() => store.write([batch({ metrics: [fresh], spans: [bad] })], 6)).toThrow(/store write failed/);
    expect(store.lastCheckpoint()).toBe(5);
    expect(store.hasSeries(fresh.seriesKey)).toBe(false);
    expect(store.seriesCount()).toBe(1);
    // The store still works afterwards and the series can be created for real.
    store.write([batch({ metrics: [fresh] })], 7);
    expect(store.samples({ seriesKey: fresh.seriesKey, fromMillis: 0, toMillis: 5_000 })).toEqual([{ t: 1_000, v: 2 }]);
  });

  it('answers raw ranges and step aggregations computed by hand', () => {
    const at = (t: number, v: number) => point({ name: 'load', t, v });
    // Buckets of 10 s from t=1000: [1000,11000) holds 1,3 ; [11000,21000) holds 10,20 ; [21000,31000) holds 7.
    store.write([batch({ metrics: [at(1_000, 1), at(5_000, 3), at(11_000, 10), at(19_000, 20), at(21_000, 7), at(40_000, 99)] })], 1);
    const key = at(0, 0).seriesKey;
    expect(store.samples({ seriesKey: key, fromMillis: 5_000, toMillis: 21_000 })).toEqual([
      { t: 5_000, v: 3 },
      { t: 11_000, v: 10 },
      { t: 19_000, v: 20 },
      { t: 21_000, v: 7 },
    ]);
    const q = { seriesKey: key, fromMillis: 1_000, toMillis: 30_999, stepMillis: 10_000 };
    expect(store.samples({ ...q, agg: 'avg' })).toEqual([
      { t: 1_000, v: 2 },
      { t: 11_000, v: 15 },
      { t: 21_000, v: 7 },
    ]);
    expect(store.samples({ ...q, agg: 'min' })?.map((p) => p.v)).toEqual([1, 10, 7]);
    expect(store.samples({ ...q, agg: 'max' })?.map((p) => p.v)).toEqual([3, 20, 7]);
    expect(store.samples({ ...q, agg: 'last' })?.map((p) => p.v)).toEqual([3, 20, 7]);
    expect(store.samples({ ...q, seriesKey: 'unknown' })).toBeUndefined();
  });

  it('keeps one point per series and timestamp (a replayed point replaces the old one)', () => {
    const p = point({ name: 'x', t: 1_000, v: 1 });
    store.write([batch({ metrics: [p] })], 1);
    store.write([batch({ metrics: [{ ...p, value: 2 }] })], 2);
    expect(store.samples({ seriesKey: p.seriesKey, fromMillis: 0, toMillis: 2_000 })).toEqual([{ t: 1_000, v: 2 }]);
  });

  it('stores histograms with count, sum and buckets (v is the mean)', () => {
    const h = (t: number, count: number, sum: number, bucketCounts: number[]) =>
      point({ name: 'http.server.duration', kind: 'histogram', unit: 'ms', t, count, sum, bounds: [10, 100], bucketCounts });
    store.write([batch({ metrics: [h(1_000, 4, 80, [2, 2, 0]), h(2_000, 10, 500, [4, 5, 1])] })], 1);
    const key = h(0, 0, 0, []).seriesKey;
    expect(store.samples({ seriesKey: key, fromMillis: 0, toMillis: 5_000 })).toEqual([
      { t: 1_000, v: 20, count: 4, sum: 80, bounds: [10, 100], bucketCounts: [2, 2, 0] },
      { t: 2_000, v: 50, count: 10, sum: 500, bounds: [10, 100], bucketCounts: [4, 5, 1] },
    ]);
    expect(store.samples({ seriesKey: key, fromMillis: 0, toMillis: 5_000, stepMillis: 5_000, agg: 'avg' })).toEqual([
      { t: 0, v: 35, count: 10, sum: 500 },
    ]);
    const [latest] = store.latestPoints();
    expect(latest).toMatchObject({ kind: 'histogram', count: 10, sum: 500, bounds: [10, 100], bucketCounts: [4, 5, 1] });
  });

  it('lists series by name, agent and labels', () => {
    store.write(
      [
        batch({
          metrics: [
            point({ name: 'cpu', agentId: 'a', labels: { state: 'user', cpu: '0' }, t: 1, v: 1 }),
            point({ name: 'cpu', agentId: 'a', labels: { state: 'idle', cpu: '0' }, t: 1, v: 1 }),
            point({ name: 'cpu', agentId: 'b', labels: { state: 'user', cpu: '0' }, t: 1, v: 1 }),
            point({ name: 'mem', agentId: 'a', t: 1, v: 1 }),
          ],
        }),
      ],
      1,
    );
    expect(store.listSeries({ name: 'cpu' }).length).toBe(3);
    expect(store.listSeries({ agentId: 'a' }).map((s) => s.name)).toEqual(['cpu', 'cpu', 'mem']);
    expect(store.listSeries({ name: 'cpu', labels: { state: 'user' } }).map((s) => s.agentId)).toEqual(['a', 'b']);
    expect(store.listSeries({ labels: { state: 'user', agent: 'b' } }).map((s) => s.key)).toEqual(['cpu{agent="b",cpu="0",state="user"}']);
    expect(store.listSeries({ labels: { state: 'nope' } })).toEqual([]);
    expect(store.listSeries({ limit: 2 }).length).toBe(2);
  });

  it('filters spans and logs, newest first', () => {
    store.write(
      [
        batch({
          spans: [
            span({ startMillis: 1_000, name: 'GET /' }),
            span({ startMillis: 2_000, name: 'POST /', agentId: 'host-b', traceId: 'ffffffffffffffffffffffffffffffff' }),
          ],
          logs: [
            log({ timestampMillis: 1_000, body: 'disk almost full', severityNumber: 13, severityText: 'WARN' }),
            log({ timestampMillis: 2_000, body: 'all good', severityNumber: 9 }),
            log({ timestampMillis: 3_000, body: 'disk full', severityNumber: 17, severityText: 'ERROR', agentId: 'host-b' }),
          ],
        }),
      ],
      1,
    );
    expect(store.spans().map((s) => s.name)).toEqual(['POST /', 'GET /']);
    expect(store.spans({ agentId: 'host-a' })[0]).toMatchObject({ name: 'GET /', attributes: { 'http.status_code': 200 }, endMillis: 1_250 });
    expect(store.spans({ traceId: 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF' }).map((s) => s.name)).toEqual(['POST /']);
    expect(store.spans({ sinceMillis: 1_500 }).map((s) => s.name)).toEqual(['POST /']);
    expect(store.spans({ name: 'GET /', limit: 1 }).length).toBe(1);
    expect(store.logs({ contains: 'disk' }).map((l) => l.body)).toEqual(['disk full', 'disk almost full']);
    expect(store.logs({ severityMin: 13, agentId: 'host-a' }).map((l) => l.severityText)).toEqual(['WARN']);
    expect(store.logs({ sinceMillis: 2_000, limit: 1 }).map((l) => l.body)).toEqual(['disk full']);
  });

  it('prunes points, spans, logs and emptied series older than the cutoff, in chunks', () => {
    const old = point({ name: 'gone', t: 1_000, v: 1 });
    const many = Array.from({ length: 12_000 }, (_, i) => point({ name: 'busy', t: 10_000 + i, v: i }));
    const keep = point({ name: 'busy', t: 50_000, v: -1 });
    store.write(
      [
        batch({
          metrics: [old, ...many, keep],
          spans: [span({ startMillis: 1_000 }), span({ startMillis: 60_000, name: 'new' })],
          logs: [log({ timestampMillis: 1_000 }), log({ timestampMillis: 60_000, body: 'new' })],
        }),
      ],
      1,
    );
    // created_ms of series is the wall clock: prune with a cutoff in the future relative to the data but
    // not past their creation, so only points go, then prune far in the future to drop the empty series.
    const result = store.pruneOlderThan(40_000);
    expect(result).toEqual({ points: 12_001, series: 0, spans: 1, logs: 1 });
    expect(store.samples({ seriesKey: keep.seriesKey, fromMillis: 0, toMillis: 100_000 })).toEqual([{ t: 50_000, v: -1 }]);
    expect(store.samples({ seriesKey: old.seriesKey, fromMillis: 0, toMillis: 100_000 })).toEqual([]);
    expect(store.spans().map((s) => s.name)).toEqual(['new']);
    expect(store.logs().map((l) => l.body)).toEqual(['new']);
    expect(store.hasSeries(old.seriesKey)).toBe(true);

    const removed: string[] = [];
    store.onSeriesRemoved((keys) => removed.push(...keys));
    const later = store.pruneOlderThan(Date.now() + day);
    expect(removed.sort()).toEqual([keep.seriesKey, old.seriesKey].sort());
    expect(later).toEqual({ points: 1, series: 2, spans: 1, logs: 1 });
    expect(store.hasSeries(old.seriesKey)).toBe(false);
    expect(store.seriesCount()).toBe(0);
  });

  it('runs a background retention pass that yields between chunks', async () => {
    store.write([batch({ metrics: Array.from({ length: 6_000 }, (_, i) => point({ name: 'x', t: 1 + i, v: i })) })], 1);
    const result = await store.pruneInBackground(3_001);
    expect(result).toEqual({ points: 3_000, series: 0, spans: 0, logs: 0 });
    const rest = store.samples({ seriesKey: point({ name: 'x', t: 0 }).seriesKey, fromMillis: 0, toMillis: 10_000 });
    expect(rest?.length).toBe(3_000);
    expect(rest?.[0]).toEqual({ t: 3_001, v: 3_000 });
  });

  it('persists agent state', () => {
    store.putAgents([{ id: 'a', principal: 'p', state: 'up', firstSeenMillis: 10, lastSeenMillis: 20, attributes: { x: '1' } }]);
    store.putAgents([{ id: 'a', principal: 'p', state: 'down', firstSeenMillis: 15, lastSeenMillis: 18, attributes: { x: '2' } }]);
    expect(store.listAgents()).toEqual([{ id: 'a', principal: 'p', state: 'down', firstSeenMillis: 10, lastSeenMillis: 20, attributes: { x: '2' } }]);
    store.setAgentState('a', 'up');
    expect(store.listAgents()[0]?.state).toBe('up');
  });

  it('refuses to write after close', () => {
    store.close();
    expect(() => store.write([], 1)).toThrow(/closed/);
    store = open();
  });
});
