import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IngestBatch } from '../../src/records.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { StoreWriter } from '../../src/store/store-writer.js';
import type { PruneResult } from '../../src/store/store-types.js';
import { batch, point, resource } from './fixtures.js';

/** What the ingest side and the query API need from a store, whichever thread writes. */
interface StoreUnderTest {
  write(batches: readonly IngestBatch[], checkpoint: number): Promise<void>;
  lastCheckpoint(): number;
  hasSeries(key: string): boolean;
  seriesCount(agentId?: string): number;
  prune(cutoffMillis: number): Promise<PruneResult>;
  /** The connection the query API reads through. */
  readonly reader: SqliteStore;
  close(): Promise<void>;
}

const implementations: Record<string, (dataDir: string) => Promise<StoreUnderTest>> = {
  'SqliteStore (main thread)': (dataDir) => {
    const store = SqliteStore.open({ dataDir, retentionMillis: 86_400_000, pruneIntervalMillis: 0 });
    return Promise.resolve({
      write: (b, c) => Promise.resolve(store.write(b, c)),
      lastCheckpoint: () => store.lastCheckpoint(),
      hasSeries: (k) => store.hasSeries(k),
      seriesCount: (a) => store.seriesCount(a),
      prune: (cutoff) => Promise.resolve(store.pruneOlderThan(cutoff)),
      reader: store,
      close: () => Promise.resolve(store.close()),
    });
  },
  'StoreWriter (worker thread)': async (dataDir) => {
    const writer = await StoreWriter.open({ dataDir, retentionMillis: 86_400_000, pruneIntervalMillis: 0 });
    return {
      write: (b, c) => writer.write(b, c),
      lastCheckpoint: () => writer.lastCheckpoint(),
      hasSeries: (k) => writer.hasSeries(k),
      seriesCount: (a) => writer.seriesCount(a),
      prune: (cutoff) => writer.pruneOlderThan(cutoff),
      reader: writer.reader,
      close: () => writer.close(),
    };
  },
};

for (const [name, open] of Object.entries(implementations)) {
  describe(`store contract: ${name}`, () => {
    let dir: string;
    let store: StoreUnderTest;

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'sloth-contract-'));
      store = await open(dir);
    });

    afterEach(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('stores gauges, sums and histograms with the checkpoint; later duplicates win; all survives a reopen', async () => {
      const load = (t: number, v: number) => point({ name: 'load', agentId: 'a', t, v });
      const requests = (t: number, v: number) => point({ name: 'requests', kind: 'sum', monotonic: true, unit: '{request}', agentId: 'b', t, v });
      const duration = point({ name: 'duration', kind: 'histogram', unit: 's', agentId: 'b', t: 3_000, count: 3, sum: 1.5, bounds: [0.1, 1], bucketCounts: [1, 1, 1] });
      expect(store.lastCheckpoint()).toBe(0);
      await store.write([batch({ resources: [resource('a')], metrics: [load(1_000, 1), load(2_000, 3)] }), batch({ metrics: [requests(1_000, 10), duration] })], 3);
      await store.write([batch({ metrics: [load(2_000, 5), load(4_000, 7), requests(4_000, 40)] })], 4);
      expect(store.lastCheckpoint()).toBe(4);
      expect([store.seriesCount(), store.seriesCount('a'), store.seriesCount('b'), store.hasSeries(duration.seriesKey)]).toEqual([3, 1, 2, true]);

      await store.close();
      store = await open(dir);
      expect(store.lastCheckpoint()).toBe(4);
      expect(store.seriesCount('b')).toBe(2);
      const reader = store.reader;
      expect(reader.samples({ seriesKey: load(0, 0).seriesKey, fromMillis: 0, toMillis: 10_000 })).toEqual([
        { t: 1_000, v: 1 },
        { t: 2_000, v: 5 },
        { t: 4_000, v: 7 },
      ]);
      expect(reader.samples({ seriesKey: load(0, 0).seriesKey, fromMillis: 0, toMillis: 9_999, stepMillis: 3_000, agg: 'avg' })).toEqual([
        { t: 0, v: 3 },
        { t: 3_000, v: 7 },
      ]);
      expect(reader.getSeries(requests(0, 0).seriesKey)).toMatchObject({ kind: 'sum', monotonic: true, unit: '{request}', agentId: 'b' });
      expect(reader.samples({ seriesKey: duration.seriesKey, fromMillis: 0, toMillis: 10_000 })).toEqual([
        { t: 3_000, v: 0.5, count: 3, sum: 1.5, bounds: [0.1, 1], bucketCounts: [1, 1, 1] },
      ]);
      const latest = new Map(reader.latestPoints().map((p) => [p.name, p]));
      expect([latest.get('load')?.value, latest.get('requests')?.value, latest.get('duration')?.count]).toEqual([7, 40, 3]);
      expect(reader.listAgents().map((a) => a.id)).toEqual(['a']);
    });

    it('prunes old data and forgets series left without points', async () => {
      const old = point({ name: 'old', t: 1_000, v: 1 });
      const recent = point({ name: 'recent', t: Date.now(), v: 2 });
      await store.write([batch({ metrics: [old, recent] })], 1);
      const result = await store.prune(Date.now() - 60_000);
      expect(result.points).toBe(1);
      // The series rows are younger than the cutoff, so they stay until a later pass.
      expect(store.hasSeries(old.seriesKey)).toBe(true);
      const later = await store.prune(Date.now() + 86_400_000);
      expect(later).toEqual({ points: 1, series: 2, spans: 0, logs: 0 });
      expect([store.hasSeries(old.seriesKey), store.seriesCount()]).toEqual([false, 0]);
    });
  });
}
