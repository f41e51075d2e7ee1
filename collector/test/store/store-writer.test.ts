import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redisKeys } from '@sloth/core';
import { AgentRegistry } from '../../src/agent-registry.js';
import { StoreWriter } from '../../src/store/store-writer.js';
import type { SpanRecord } from '../../src/records.js';
import { batch, point, resource } from './fixtures.js';

const day = 86_400_000;
let dir: string;
let writer: StoreWriter;

const open = (): Promise<StoreWriter> => StoreWriter.open({ dataDir: dir, retentionMillis: 7 * day, pruneIntervalMillis: 0 });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-writer-'));
  writer = await open();
});

afterEach(async () => {
  await writer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('StoreWriter (writes in a worker thread)', () => {
  it('its reader is read-only and aggregates what the writer thread committed', async () => {
    const counter = (agentId: string, t: number, v: number) => point({ name: 'requests', kind: 'sum', monotonic: true, agentId, t, v });
    await writer.write([batch({ metrics: [counter('a', 0, 5), counter('b', 0, 100), counter('a', 10_000, 25), counter('b', 10_000, 7)] })], 1);
    expect(writer.reader.readonly).toBe(true);
    expect(() => writer.reader.write([batch({ metrics: [counter('a', 20_000, 1)] })], 2)).toThrow(/open read-only/);
    // b restarted (100 → 7): its increase is 7, a's is 20; per second over a 10 s step.
    expect(writer.reader.aggregate({ name: 'requests', agg: 'rate', fromMillis: 0, toMillis: 19_999, stepMillis: 10_000 }).groups).toEqual([{ labels: {}, series: 2, points: [{ t: 10_000, v: 2.7 }] }]);
    expect(writer.reader.aggregate({ name: 'requests', agg: 'max', by: ['agent'], fromMillis: 0, toMillis: 19_999, stepMillis: 20_000 }).groups).toEqual([
      { labels: { agent: 'a' }, series: 1, points: [{ t: 0, v: 25 }] },
      { labels: { agent: 'b' }, series: 1, points: [{ t: 0, v: 7 }] },
    ]);
  });

  it('commits batches and the checkpoint, counts series at once, and reads through the reader', async () => {
    const gauge = (t: number, v: number, agentId = 'a') => point({ name: 'system.cpu.utilization', unit: '1', agentId, t, v });
    const hist = point({ name: 'http.server.duration', kind: 'histogram', unit: 's', t: 5_000, count: 4, sum: 2, bounds: [1], bucketCounts: [3, 1] });
    const written = writer.write([batch({ resources: [resource('a')], metrics: [gauge(1_000, 0.1), gauge(2_000, 0.2), hist] }), batch({ metrics: [gauge(1_000, 0.5, 'b')] })], 11);
    // Counted before the commit, so a cardinality limit sees series that are on their way.
    expect(writer.hasSeries(hist.seriesKey)).toBe(true);
    expect([writer.seriesCount(), writer.seriesCount('a'), writer.seriesCount('host-a'), writer.seriesCount('c')]).toEqual([3, 1, 1, 0]);
    await written;
    expect(writer.lastCheckpoint()).toBe(11);
    expect(writer.reader.samples({ seriesKey: gauge(0, 0).seriesKey, fromMillis: 0, toMillis: 10_000 })).toEqual([
      { t: 1_000, v: 0.1 },
      { t: 2_000, v: 0.2 },
    ]);
    expect(writer.reader.samples({ seriesKey: hist.seriesKey, fromMillis: 0, toMillis: 10_000 })).toEqual([
      { t: 5_000, v: 0.5, count: 4, sum: 2, bounds: [1], bucketCounts: [3, 1] },
    ]);
    expect(writer.reader.getSeries(hist.seriesKey)).toMatchObject({ kind: 'histogram', unit: 's', agentId: 'host-a' });

    // A second write to known series sends no definitions; the values still land.
    await writer.write([batch({ metrics: [gauge(3_000, 0.3)] })], 12);
    expect(writer.reader.samples({ seriesKey: gauge(0, 0).seriesKey, fromMillis: 2_500, toMillis: 10_000 })).toEqual([{ t: 3_000, v: 0.3 }]);

    await writer.close();
    writer = await open();
    expect(writer.lastCheckpoint()).toBe(12);
    expect([writer.seriesCount(), writer.hasSeries(hist.seriesKey)]).toEqual([3, true]);
    expect(writer.reader.latestPoints().find((p) => p.seriesKey === gauge(0, 0).seriesKey)).toMatchObject({ timestampMillis: 3_000, value: 0.3, unit: '1' });
  });

  it('rejects a failed write, keeps the checkpoint, and a retry still creates its series with their metadata', async () => {
    const fresh = point({ name: 'queue.depth', unit: '{job}', kind: 'sum', monotonic: true, t: 1_000, v: 7 });
    const bad: SpanRecord = {
      traceId: 'aa'.repeat(16),
      spanId: 'bb'.repeat(8),
      parentSpanId: '',
      name: 'x',
      kind: 1,
      agentId: 'a',
      serviceName: 's',
      startMillis: 1,
      endMillis: 2,
      statusCode: 0,
      statusMessage: '',
      attributes: { big: 10n },
    };
    await expect(writer.write([batch({ metrics: [fresh], spans: [bad] })], 5)).rejects.toThrow(/store write failed/);
    expect(writer.lastCheckpoint()).toBe(0);
    await writer.write([batch({ metrics: [fresh] })], 5);
    expect(writer.lastCheckpoint()).toBe(5);
    expect(writer.reader.getSeries(fresh.seriesKey)).toMatchObject({ name: 'queue.depth', unit: '{job}', kind: 'sum', monotonic: true });
  });

  it('persists agents for the registry and prunes in the writer thread', async () => {
    const registry = new AgentRegistry({ store: writer, keys: redisKeys('writer-test'), expectedIntervalMillis: 1_000 });
    registry.observe([resource('a')], 1_000);
    expect(registry.check(4_000)).toEqual(['a']);
    const old = point({ name: 'old', t: 1_000, v: 1 });
    await writer.write([batch({ metrics: [old] })], 1); // also orders after the agent messages
    expect(writer.listAgents().map((a) => [a.id, a.state, a.lastSeenMillis])).toEqual([['a', 'down', 1_000]]);

    const removed: string[] = [];
    writer.onSeriesRemoved((keys) => removed.push(...keys));
    expect(await writer.pruneOlderThan(Date.now() + day)).toEqual({ points: 1, series: 1, spans: 0, logs: 0 });
    expect(removed).toEqual([old.seriesKey]);
    expect(writer.hasSeries(old.seriesKey)).toBe(false);
    await registry.shutdown();
  });

  it('holds appended writes in its head and commits them as one chunk per series, with the last checkpoint', async () => {
    await writer.close();
    writer = await StoreWriter.open({ dataDir: dir, retentionMillis: 7 * day, pruneIntervalMillis: 0, headMaxMillis: 60_000 });
    const committed: number[] = [];
    writer.onCommitted((checkpoint) => committed.push(checkpoint));
    const gauge = (t: number, v: number) => point({ name: 'system.memory.usage', t, v });
    await writer.append([batch({ metrics: [gauge(1_000, 1)] })], 1);
    await writer.append([batch({ metrics: [gauge(2_000, 2)] }), batch({ metrics: [gauge(3_000, 3)] })], 3);
    // Held, not committed: the reader sees nothing yet and the checkpoint has not moved.
    expect([writer.lastCheckpoint(), writer.committedCheckpoint, committed]).toEqual([0, 0, []]);
    expect(writer.reader.samples({ seriesKey: gauge(0, 0).seriesKey, fromMillis: 0, toMillis: 10_000 })).toBeUndefined();
    await writer.flush();
    expect([writer.lastCheckpoint(), writer.committedCheckpoint, committed]).toEqual([3, 3, [3]]);
    expect(writer.reader.samples({ seriesKey: gauge(0, 0).seriesKey, fromMillis: 0, toMillis: 10_000 })).toEqual([
      { t: 1_000, v: 1 },
      { t: 2_000, v: 2 },
      { t: 3_000, v: 3 },
    ]);
    const db = new Database(join(dir, 'collector', 'sloth.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) FROM chunks').pluck().get()).toBe(1);
    } finally {
      db.close();
    }
    // A write commits what the head holds with it.
    await writer.append([batch({ metrics: [gauge(4_000, 4)] })], 4);
    await writer.write([batch({ metrics: [gauge(5_000, 5)] })], 5);
    expect([writer.lastCheckpoint(), committed]).toEqual([5, [3, 5]]);
    expect(writer.reader.samples({ seriesKey: gauge(0, 0).seriesKey, fromMillis: 3_500, toMillis: 10_000 })).toEqual([
      { t: 4_000, v: 4 },
      { t: 5_000, v: 5 },
    ]);
  });

  it('commits its head on its own once it is old enough or full, and at close', async () => {
    await writer.close();
    writer = await StoreWriter.open({ dataDir: dir, retentionMillis: 7 * day, pruneIntervalMillis: 0, headMaxMillis: 200, headMaxPoints: 3 });
    const gauge = (t: number, v: number) => point({ name: 'queue.length', t, v });
    await writer.append([batch({ metrics: [gauge(1_000, 1)] })], 1);
    expect(writer.lastCheckpoint()).toBe(0);
    await new Promise<void>((resolve) => writer.onCommitted(() => resolve()));
    expect(writer.lastCheckpoint()).toBe(1);
    // Three points fill the head: committed before the append resolves.
    await writer.append([batch({ metrics: [gauge(2_000, 2), gauge(3_000, 3), gauge(4_000, 4)] })], 2);
    expect(writer.lastCheckpoint()).toBe(2);
    await writer.close();
    writer = await StoreWriter.open({ dataDir: dir, retentionMillis: 7 * day, pruneIntervalMillis: 0, headMaxMillis: 60_000 });
    await writer.append([batch({ metrics: [gauge(5_000, 5)] })], 3);
    await writer.close();
    writer = await open();
    expect(writer.lastCheckpoint()).toBe(3);
    expect(writer.reader.samples({ seriesKey: gauge(0, 0).seriesKey, fromMillis: 0, toMillis: 10_000 })?.map((p) => p.v)).toEqual([1, 2, 3, 4, 5]);
  });

  it('fails writes at once when the writer thread is gone, instead of hanging', async () => {
    await writer.write([batch({ metrics: [point({ name: 'x', t: 1, v: 1 })] })], 1);
    await writer.terminateForTest();
    await expect(writer.write([batch({ metrics: [point({ name: 'x', t: 2, v: 2 })] })], 2)).rejects.toThrow(/writer thread exited/);
    expect(writer.lastCheckpoint()).toBe(1);
  });
});
