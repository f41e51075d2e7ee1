import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mergeChunks, sortedUnique, stepAggregate } from '../../src/store/chunk-points.js';
import { chunkWords } from '../../src/store/schema.js';
import { seriesStepValues } from '../../src/store/series-aggregation.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { batch, point, resource } from './fixtures.js';

const day = 86_400_000;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-store-parts-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function points(pairs: ReadonlyArray<[number, number]>): { count: number; timestamps: Float64Array; values: Float64Array } {
  return { count: pairs.length, timestamps: Float64Array.from(pairs.map((p) => p[0])), values: Float64Array.from(pairs.map((p) => p[1])) };
}

describe('read-only store (the query side next to the writer thread)', () => {
  it('refuses every write with a clear error and runs no retention', async () => {
    const writer = SqliteStore.open({ dataDir: dir, retentionMillis: 7 * day, pruneIntervalMillis: 0 });
    writer.write([batch({ resources: [resource('host-a')], metrics: [point({ name: 'm', t: 1_000, v: 1 })] })], 1);
    const reader = SqliteStore.open({ dataDir: dir, retentionMillis: 7 * day, readonly: true });
    try {
      expect(reader.readonly).toBe(true);
      expect(reader.lastCheckpoint()).toBe(1);
      expect(reader.listAgents().map((a) => a.id)).toEqual(['host-a']);
      const readOnly = { code: 'SLOTH_ERR_STORAGE', message: expect.stringMatching(/sloth\.db is open read-only/) };
      expect(() => reader.write([batch({ metrics: [point({ name: 'm', t: 2_000, v: 2 })] })], 2)).toThrow(expect.objectContaining(readOnly));
      expect(() => reader.putAgents([])).toThrow(expect.objectContaining(readOnly));
      expect(() => reader.setAgentState('host-a', 'down')).toThrow(expect.objectContaining(readOnly));
      expect(() => reader.pruneOlderThan(Date.now())).toThrow(expect.objectContaining(readOnly));
      expect(await reader.pruneInBackground(Date.now())).toBeUndefined();
      expect(writer.samples({ seriesKey: point({ name: 'm', t: 0 }).seriesKey, fromMillis: 0, toMillis: 10_000 })).toEqual([{ t: 1_000, v: 1 }]);
    } finally {
      reader.close();
      writer.close();
    }
  });

  it('opening a store that does not exist read-only is an error naming the directory, and creates nothing', () => {
    expect(() => SqliteStore.open({ dataDir: join(dir, 'none'), retentionMillis: day, readonly: true })).toThrow(/cannot open the store in .*none\/collector/);
  });

  it('sees a series that the writer removed and created again under a new id', () => {
    const writer = SqliteStore.open({ dataDir: dir, retentionMillis: 7 * day, pruneIntervalMillis: 0 });
    const reader = SqliteStore.open({ dataDir: dir, retentionMillis: 7 * day, readonly: true });
    try {
      const key = point({ name: 'm', t: 0 }).seriesKey;
      writer.write([batch({ metrics: [point({ name: 'm', t: 1_000, v: 1 })] })], 1);
      expect(reader.samples({ seriesKey: key, fromMillis: 0, toMillis: 10_000 })).toEqual([{ t: 1_000, v: 1 }]);
      // Retention removes the series (no points left); new points create it again with another id.
      expect(writer.pruneOlderThan(Date.now() + 1_000).series).toBe(1);
      writer.write([batch({ metrics: [point({ name: 'm', t: 5_000, v: 5 })] })], 2);
      expect(reader.samples({ seriesKey: key, fromMillis: 0, toMillis: 10_000 })).toEqual([{ t: 5_000, v: 5 }]);
    } finally {
      reader.close();
      writer.close();
    }
  });
});

describe('chunk compaction', () => {
  const hour = 3_600_000;
  const t0 = Date.UTC(2026, 0, 1, 10, 58, 0);
  const chunkRows = (): number => {
    const db = new Database(join(dir, 'collector', 'sloth.db'), { readonly: true });
    try {
      return db.prepare('SELECT count(*) FROM chunks').pluck().get() as number;
    } finally {
      db.close();
    }
  };

  it('merges one-point chunks into one chunk per series per hour window; reads are unchanged', () => {
    const store = SqliteStore.open({ dataDir: dir, retentionMillis: 3650 * day, pruneIntervalMillis: 0 });
    try {
      let checkpoint = 0;
      for (let t = t0; t < t0 + 10 * 60_000; t += 10_000) {
        store.write([batch({ metrics: [point({ name: 'm', agentId: 'a', t, v: t % 997 }), point({ name: 'm', agentId: 'b', t, v: -(t % 991) })] })], (checkpoint += 1));
      }
      expect(chunkRows()).toBe(120);
      const keys = ['a', 'b'].map((agentId) => point({ name: 'm', agentId, t: 0 }).seriesKey);
      const before = keys.map((seriesKey) => store.samples({ seriesKey, fromMillis: 0, toMillis: t0 + hour }));
      // Points from t0 + 8 min on are newer than the cutoff and stay as they are.
      const result = store.compactChunks(t0 + 8 * 60_000);
      // Per series: 10:58–10:59:50 (12 chunks → 1), 11:00–11:05:50 (36 → 1), 11:06–11:07:50 (12) left alone.
      expect(result).toEqual({ chunksRemoved: 2 * (11 + 35), series: 2 });
      expect(chunkRows()).toBe(2 * (1 + 1 + 12));
      expect(keys.map((seriesKey) => store.samples({ seriesKey, fromMillis: 0, toMillis: t0 + hour }))).toEqual(before);
      expect(store.aggregate({ name: 'm', agg: 'sum', fromMillis: t0, toMillis: t0 + hour, stepMillis: 60_000 }).groups[0]?.points).toHaveLength(10);
      // A second pass finds nothing new; later points join the window's merged chunk.
      expect(store.compactChunks(t0 + 8 * 60_000).chunksRemoved).toBe(0);
      expect(store.compactChunks(t0 + hour).chunksRemoved).toBe(2 * 12);
      expect(chunkRows()).toBe(4);
      expect(keys.map((seriesKey) => store.samples({ seriesKey, fromMillis: 0, toMillis: t0 + hour }))).toEqual(before);
    } finally {
      store.close();
    }
  });

  it('keeps "a later write wins": a chunk that is not merged is never overtaken by a merged one', () => {
    const store = SqliteStore.open({ dataDir: dir, retentionMillis: 3650 * day, pruneIntervalMillis: 0 });
    try {
      const cutoff = t0 + 60_000;
      const m = (t: number, v: number) => point({ name: 'm', t, v });
      store.write([batch({ metrics: [m(t0 + 1_000, 1)] })], 1);
      store.write([batch({ metrics: [m(t0 + 2_000, 1)] })], 2);
      // Rewrites t0+2s, but also holds a point past the cutoff: it stays as it is.
      store.write([batch({ metrics: [m(t0 + 2_000, 2), m(cutoff + 5_000, 9)] })], 3);
      store.write([batch({ metrics: [m(t0 + 3_000, 3)] })], 4);
      store.write([batch({ metrics: [m(t0 + 4_000, 4)] })], 5);
      const key = m(0, 0).seriesKey;
      const before = store.samples({ seriesKey: key, fromMillis: 0, toMillis: t0 + hour });
      expect(before).toEqual([{ t: t0 + 1_000, v: 1 }, { t: t0 + 2_000, v: 2 }, { t: t0 + 3_000, v: 3 }, { t: t0 + 4_000, v: 4 }, { t: cutoff + 5_000, v: 9 }]);
      expect(store.compactChunks(cutoff).chunksRemoved).toBe(2);
      expect(chunkRows()).toBe(3);
      expect(store.samples({ seriesKey: key, fromMillis: 0, toMillis: t0 + hour })).toEqual(before);
    } finally {
      store.close();
    }
  });
});

describe('chunk compaction across windows', () => {
  const hour = 3_600_000;
  const w1 = Date.UTC(2026, 0, 1, 10, 0, 0);
  const w2 = w1 + hour;

  it('merges a window\'s chunks across writes to other windows, but not across a chunk that overlaps it', () => {
    const store = SqliteStore.open({ dataDir: dir, retentionMillis: 3650 * day, pruneIntervalMillis: 0 });
    try {
      const m = (t: number, v: number) => point({ name: 'm', t, v });
      const writes = [
        [m(w1 + 1_000, 1)],
        [m(w2 + 1_000, 2)],
        [m(w1 + 2_000, 3)], // late point for the first window: merged with the first chunk across the second window's
        [m(w1 + 3_000, 4), m(w2 + 3_000, 5)], // overlaps both windows: stays, and closes both runs
        [m(w1 + 3_000, 6)], // must still win over the spanning chunk's point at w1 + 3 s
        [m(w1 + 4_000, 7)],
      ];
      writes.forEach((metrics, i) => store.write([batch({ metrics })], i + 1));
      const key = m(0, 0).seriesKey;
      const before = store.samples({ seriesKey: key, fromMillis: 0, toMillis: w2 + hour });
      expect(before).toEqual([{ t: w1 + 1_000, v: 1 }, { t: w1 + 2_000, v: 3 }, { t: w1 + 3_000, v: 6 }, { t: w1 + 4_000, v: 7 }, { t: w2 + 1_000, v: 2 }, { t: w2 + 3_000, v: 5 }]);
      // Runs: window 1 [1, 3] and [6, 7]; window 2 [2] alone.
      expect(store.compactChunks(w2 + hour).chunksRemoved).toBe(2);
      expect(store.samples({ seriesKey: key, fromMillis: 0, toMillis: w2 + hour })).toEqual(before);
    } finally {
      store.close();
    }
  });
});

describe('pure step functions', () => {
  it('stepAggregate: buckets from "from", empty ones left out, NaN skipped, a bucket of only NaN is null', () => {
    const input = points([
      [0, 1],
      [4, 3],
      [9, Number.NaN],
      [25, Number.NaN],
      [31, 10],
      [39, 2],
    ]);
    expect(stepAggregate(input, 0, 10, 'avg', 100)).toEqual([
      { t: 0, v: 2 },
      { t: 20, v: null },
      { t: 30, v: 6 },
    ]);
    expect(stepAggregate(input, 0, 10, 'min', 100).map((p) => p.v)).toEqual([1, null, 2]);
    expect(stepAggregate(input, 0, 10, 'max', 100).map((p) => p.v)).toEqual([3, null, 10]);
    expect(stepAggregate(input, 0, 10, 'last', 100).map((p) => p.v)).toEqual([null, null, 2]);
    expect(stepAggregate(input, 0, 10, 'avg', 2)).toHaveLength(2);
  });

  it('mergeChunks: overlapping chunks are merged in time order and the later chunk wins a timestamp', () => {
    const merged = mergeChunks([points([[10, 1], [20, 2], [30, 3]]), points([[15, 9], [20, 8]])], 0, 25);
    expect([...merged.timestamps.subarray(0, merged.count)]).toEqual([10, 15, 20]);
    expect([...merged.values.subarray(0, merged.count)]).toEqual([1, 9, 8]);
  });

  it('sortedUnique: nearly ordered and badly ordered chunks sort by time, the last write of a timestamp wins', () => {
    const chunk = (pairs: Array<[number, number]>): Float64Array => {
      const words = chunkWords(pairs.length);
      pairs.forEach(([t, v], i) => {
        words[1 + i] = t;
        words[1 + pairs.length + i] = v;
      });
      return words;
    };
    const reference = (pairs: Array<[number, number]>): Array<[number, number]> => {
      const last = new Map<number, number>();
      for (const [t, v] of pairs) last.set(t, v);
      return [...last].sort((a, b) => a[0] - b[0]);
    };
    const pairsOf = (result: { words: Float64Array; count: number }): Array<[number, number]> =>
      Array.from({ length: result.count }, (_, i) => [result.words[1 + i] as number, result.words[1 + result.count + i] as number]);
    // Two requests of an agent overtook each other, and one timestamp came twice.
    const nearly: Array<[number, number]> = [[1, 1], [3, 3], [2, 2], [4, 4], [6, 6], [5, 5], [5, 50], [7, 7]];
    expect(pairsOf(sortedUnique(chunk(nearly), nearly.length))).toEqual(reference(nearly));
    // Reversed with duplicates: past the insertion sort's budget, the general sort gives the same.
    const reversed: Array<[number, number]> = Array.from({ length: 500 }, (_, i) => [Math.floor((500 - i) / 2), i]);
    expect(pairsOf(sortedUnique(chunk(reversed), reversed.length))).toEqual(reference(reversed));
  });

  it('seriesStepValues: rate is the per-second increase per step, a drop is a counter reset', () => {
    // 10 s steps; the counter goes 100 → 130 → 160, restarts (10), then 40 → 70.
    const counter = points([
      [0, 100],
      [5_000, 130],
      [10_000, 160],
      [15_000, 10],
      [20_000, 40],
      [25_000, 70],
    ]);
    const spec = { agg: 'rate' as const, by: [], fromMillis: 0, toMillis: 29_999, stepMillis: 10_000 };
    // step 0: +30; step 1: +30 (130→160) and +10 after the reset; step 2: +30 +30.
    expect([...seriesStepValues(counter, spec)]).toEqual([3, 4, 6]);
    expect([...seriesStepValues(counter, { ...spec, agg: 'sum' })]).toEqual([130, 10, 70]);
  });
});
