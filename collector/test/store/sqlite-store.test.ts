import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '@sloth/core';
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

  it('stores a chunk per series per write: out-of-order points come back sorted, and a later point for the same time wins', () => {
    const at = (t: number, v: number) => point({ name: 'jitter', t, v });
    const key = at(0, 0).seriesKey;
    // Within one write (one chunk): out of order, and 2_000 twice.
    store.write([batch({ metrics: [at(3_000, 3), at(1_000, 1), at(2_000, 20)] }), batch({ metrics: [at(2_000, 2), at(5_000, 5)] })], 1);
    expect(store.samples({ seriesKey: key, fromMillis: 0, toMillis: 10_000 })).toEqual([
      { t: 1_000, v: 1 },
      { t: 2_000, v: 2 },
      { t: 3_000, v: 3 },
      { t: 5_000, v: 5 },
    ]);
    // A later write (a second chunk overlapping the first) replaces 3_000 and fills in 4_000.
    store.write([batch({ metrics: [at(4_000, 4), at(3_000, 30)] })], 2);
    expect(store.samples({ seriesKey: key, fromMillis: 0, toMillis: 10_000 })?.map((p) => [p.t, p.v])).toEqual([
      [1_000, 1],
      [2_000, 2],
      [3_000, 30],
      [4_000, 4],
      [5_000, 5],
    ]);
    expect(store.samples({ seriesKey: key, fromMillis: 2_000, toMillis: 4_000, limit: 2 })).toEqual([
      { t: 2_000, v: 2 },
      { t: 3_000, v: 30 },
    ]);
    const q = { seriesKey: key, fromMillis: 1_000, toMillis: 5_999, stepMillis: 2_000 };
    expect(store.samples({ ...q, agg: 'avg' })).toEqual([
      { t: 1_000, v: 1.5 },
      { t: 3_000, v: 17 },
      { t: 5_000, v: 5 },
    ]);
    expect(store.samples({ ...q, agg: 'last' })?.map((p) => p.v)).toEqual([2, 4, 5]);
    expect(store.samples({ ...q, agg: 'max', limit: 2 })?.map((p) => p.v)).toEqual([2, 30]);
    // The newest point, also when two chunks end at the same time (the later one wins).
    store.write([batch({ metrics: [at(5_000, 50)] })], 3);
    expect(store.latestPoints().map((p) => [p.timestampMillis, p.value])).toEqual([[5_000, 50]]);
  });

  it('reads a gauge point without a value as null and leaves it out of avg, min and max', () => {
    const at = (t: number, v: number) => point({ name: 'gappy', t, v });
    store.write([batch({ metrics: [at(1_000, 4), at(2_000, Number.NaN), at(3_000, 8), at(11_000, Number.NaN)] })], 1);
    const key = at(0, 0).seriesKey;
    expect(store.samples({ seriesKey: key, fromMillis: 0, toMillis: 20_000 })).toEqual([
      { t: 1_000, v: 4 },
      { t: 2_000, v: null },
      { t: 3_000, v: 8 },
      { t: 11_000, v: null },
    ]);
    const q = { seriesKey: key, fromMillis: 0, toMillis: 19_999, stepMillis: 10_000 };
    expect(store.samples({ ...q, agg: 'avg' })).toEqual([
      { t: 0, v: 6 },
      { t: 10_000, v: null },
    ]);
    expect(store.samples({ ...q, agg: 'min' })?.map((p) => p.v)).toEqual([4, null]);
    expect(store.samples({ ...q, agg: 'last' })?.map((p) => p.v)).toEqual([8, null]);
  });

  it('reads points written through a second connection on the same file (the worker-thread writer case)', () => {
    const reader = SqliteStore.open({ dataDir: dir, retentionMillis: 7 * day, pruneIntervalMillis: 0 });
    try {
      const p = point({ name: 'late', kind: 'sum', t: 1_000, v: 3 });
      store.write([batch({ metrics: [p] })], 1);
      expect(reader.hasSeries(p.seriesKey)).toBe(false);
      expect(reader.samples({ seriesKey: p.seriesKey, fromMillis: 0, toMillis: 2_000 })).toEqual([{ t: 1_000, v: 3 }]);
    } finally {
      reader.close();
    }
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
          metrics: [old],
          spans: [span({ startMillis: 1_000 }), span({ startMillis: 60_000, name: 'new' })],
          logs: [log({ timestampMillis: 1_000 }), log({ timestampMillis: 60_000, body: 'new' })],
        }),
      ],
      1,
    );
    // Retention deletes whole chunks (one per series per write): two points per write make 6,000 chunks,
    // more than one retention step deletes, and `keep` gets a chunk of its own.
    for (let i = 0; i < many.length; i += 2) store.write([batch({ metrics: many.slice(i, i + 2) })], 2 + i);
    store.write([batch({ metrics: [keep] })], 20_000);
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
    // One write per point: one chunk per point, so the cutoff falls between chunks.
    for (let i = 0; i < 6_000; i += 1) store.write([batch({ metrics: [point({ name: 'x', t: 1 + i, v: i })] })], 1 + i);
    const result = await store.pruneInBackground(3_001);
    expect(result).toEqual({ points: 3_000, series: 0, spans: 0, logs: 0 });
    const rest = store.samples({ seriesKey: point({ name: 'x', t: 0 }).seriesKey, fromMillis: 0, toMillis: 10_000 });
    expect(rest?.length).toBe(3_000);
    expect(rest?.[0]).toEqual({ t: 3_001, v: 3_000 });
  });

  it('deletes a chunk only once its newest point is older than the cutoff', () => {
    const at = (t: number, v: number) => point({ name: 'span', t, v });
    const key = at(0, 0).seriesKey;
    store.write([batch({ metrics: [at(1_000, 1), at(2_000, 2)] })], 1);
    store.write([batch({ metrics: [at(3_000, 3), at(9_000, 9)] })], 2);
    expect(store.pruneOlderThan(5_000)).toEqual({ points: 2, series: 0, spans: 0, logs: 0 });
    // The chunk spanning the cutoff stays whole; reads still filter by time.
    expect(store.samples({ seriesKey: key, fromMillis: 0, toMillis: 10_000 })?.map((p) => p.t)).toEqual([3_000, 9_000]);
    expect(store.samples({ seriesKey: key, fromMillis: 5_000, toMillis: 10_000 })?.map((p) => p.t)).toEqual([9_000]);
    // A series with chunks left is not removed, whatever its age.
    const removed: string[] = [];
    store.onSeriesRemoved((keys) => removed.push(...keys));
    expect(store.pruneOlderThan(9_000)).toEqual({ points: 0, series: 0, spans: 0, logs: 0 });
    expect([store.hasSeries(key), removed]).toEqual([true, []]);
    expect(store.pruneOlderThan(Date.now() + day)).toEqual({ points: 2, series: 1, spans: 0, logs: 0 });
    expect(removed).toEqual([key]);
  });

  it('opens a schema 1 store (every point a `points` row) and moves its gauge and sum points into chunks', () => {
    store.close();
    const v1Dir = mkdtempSync(join(tmpdir(), 'sloth-store-v1-'));
    try {
      mkdirSync(join(v1Dir, 'collector'));
      const db = new Database(join(v1Dir, 'collector', 'sloth.db'));
      db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE series (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, name TEXT NOT NULL, agent_id TEXT NOT NULL, kind TEXT NOT NULL,
          unit TEXT NOT NULL, description TEXT NOT NULL, monotonic INTEGER NOT NULL, labels TEXT NOT NULL, created_ms INTEGER NOT NULL);
        CREATE TABLE points (series_id INTEGER NOT NULL, ts_ms INTEGER NOT NULL, value REAL, count REAL, sum REAL, buckets TEXT,
          PRIMARY KEY (series_id, ts_ms)) WITHOUT ROWID;
        INSERT INTO meta VALUES ('schema_version', '1'), ('checkpoint', '77');`);
      const series = db.prepare('INSERT INTO series VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
      const labels = (agent: string) => JSON.stringify({ agent });
      series.run(1, 'load{agent="a"}', 'load', 'a', 'gauge', '1', '', 0, labels('a'), 0);
      series.run(2, 'requests{agent="a"}', 'requests', 'a', 'sum', '{request}', '', 1, labels('a'), 0);
      series.run(3, 'duration{agent="a"}', 'duration', 'a', 'histogram', 's', '', 0, labels('a'), 0);
      const insert = db.prepare('INSERT INTO points VALUES (?, ?, ?, ?, ?, ?)');
      // 2,500 load points: more than one migrated chunk (1,000 points each).
      db.transaction(() => {
        for (let i = 0; i < 2_500; i += 1) insert.run(1, 1_000 * (i + 1), i, null, null, null);
        insert.run(2, 1_000, 10, null, null, null);
        insert.run(2, 2_000, null, null, null, null);
        insert.run(3, 1_000, 0.5, 3, 1.5, JSON.stringify([[0.1, 1], [1, 1, 1]]));
      })();
      db.close();

      const messages: string[] = [];
      const logger: Logger = silentLogger();
      logger.info = ((_fields: unknown, message?: string) => void messages.push(message ?? ''));
      const migrated = SqliteStore.open({ dataDir: v1Dir, retentionMillis: 7 * day, pruneIntervalMillis: 0, logger });
      try {
        expect(messages.filter((m) => m.includes('schema')).length).toBe(2);
        expect(migrated.lastCheckpoint()).toBe(77);
        expect(migrated.seriesCount()).toBe(3);
        const load = migrated.samples({ seriesKey: 'load{agent="a"}', fromMillis: 0, toMillis: 10_000_000 });
        expect(load?.length).toBe(2_500);
        expect([load?.[0], load?.[999], load?.[1_000], load?.[2_499]]).toEqual([
          { t: 1_000, v: 0 },
          { t: 1_000_000, v: 999 },
          { t: 1_001_000, v: 1_000 },
          { t: 2_500_000, v: 2_499 },
        ]);
        expect(migrated.samples({ seriesKey: 'requests{agent="a"}', fromMillis: 0, toMillis: 5_000 })).toEqual([
          { t: 1_000, v: 10 },
          { t: 2_000, v: null },
        ]);
        expect(migrated.samples({ seriesKey: 'duration{agent="a"}', fromMillis: 0, toMillis: 5_000 })).toEqual([
          { t: 1_000, v: 0.5, count: 3, sum: 1.5, bounds: [0.1, 1], bucketCounts: [1, 1, 1] },
        ]);
        const latest = new Map(migrated.latestPoints().map((p) => [p.name, p]));
        expect([latest.get('load')?.timestampMillis, latest.get('load')?.value, latest.get('requests')?.monotonic, latest.get('duration')?.count]).toEqual([
          2_500_000,
          2_499,
          true,
          3,
        ]);
        // New points land in chunks next to the migrated ones.
        migrated.write([batch({ metrics: [point({ name: 'load', agentId: 'a', unit: '1', t: 2_501_000, v: 7 })] })], 78);
        expect(migrated.samples({ seriesKey: 'load{agent="a"}', fromMillis: 2_500_000, toMillis: 3_000_000 })?.map((p) => p.v)).toEqual([2_499, 7]);
      } finally {
        migrated.close();
      }
      const check = new Database(join(v1Dir, 'collector', 'sloth.db'), { readonly: true });
      try {
        expect(check.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).pluck().get()).toBe('2');
        expect(check.prepare('SELECT series_id, count(*) FROM points GROUP BY series_id').raw().all()).toEqual([[3, 1]]);
        expect(check.prepare('SELECT series_id, count(*), sum(count) FROM chunks GROUP BY series_id').raw().all()).toEqual([
          [1, 4, 2_501],
          [2, 1, 2],
        ]);
      } finally {
        check.close();
      }
      // A second open finds version 2 and migrates nothing.
      messages.length = 0;
      SqliteStore.open({ dataDir: v1Dir, retentionMillis: 7 * day, pruneIntervalMillis: 0, logger }).close();
      expect(messages.filter((m) => m.includes('schema'))).toEqual([]);
    } finally {
      rmSync(v1Dir, { recursive: true, force: true });
      store = open();
    }
  });

  it('refuses a store written by a newer schema', () => {
    store.close();
    const db = new Database(join(dir, 'collector', 'sloth.db'));
    db.prepare(`UPDATE meta SET value = '3' WHERE key = 'schema_version'`).run();
    db.close();
    expect(() => open()).toThrow(/schema version is 3/);
    const fix = new Database(join(dir, 'collector', 'sloth.db'));
    fix.prepare(`UPDATE meta SET value = '2' WHERE key = 'schema_version'`).run();
    fix.close();
    store = open();
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
