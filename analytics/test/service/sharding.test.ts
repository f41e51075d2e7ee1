import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '@sloth/core';
import { addSampleBatches, addSamples, cpuSeries, makeService, seasonalValue, startTestBed, waitFor, type TestBed } from './helpers.js';

let bed: TestBed;
beforeAll(async () => {
  bed = await startTestBed();
});
afterAll(async () => {
  await bed.close();
});

describe('sharded by series', () => {
  it('gives each series to one process, rebalances when processes come and go, and hands state over through the registry', async () => {
    const keys = redisKeys('shard');
    const flags = { redisPrefix: 'shard', dataDir: join(bed.dir, 'shard'), shards: 4, leaseRenewMillis: 100, batchSize: 50 };
    const a = makeService(bed, { ...flags, consumer: 'a' }, { detectorOptions: { useModel: false } });
    const b = makeService(bed, { ...flags, consumer: 'b' }, { detectorOptions: { useModel: false } });
    const ids = Array.from({ length: 8 }, (_, k) => cpuSeries(`s${k}`));
    const rows = (from: number, to: number) => Array.from({ length: (to - from) * ids.length }, (_, n) => {
      const i = from + Math.floor(n / ids.length);
      const k = n % ids.length;
      return { seriesId: ids[k]!, agentId: `s${k}`, timestampMillis: 1_000_000 + i * 1_000, value: seasonalValue(i, k) };
    });
    await a.start();
    try {
      await waitFor('a holds every shard', () => a.heldShards.length === 4);
      await b.start();
      await waitFor('the shards split between a and b', () => a.heldShards.length === 2 && b.heldShards.length === 2, 20_000);
      expect([...a.heldShards, ...b.heldShards].sort()).toEqual([0, 1, 2, 3]);

      // Batch entries of 40 samples, each with every series: every shard scores its own samples of every entry.
      for (let i = 0; i < 100; i += 20) await addSampleBatches(bed.client, keys.samples, rows(i, i + 20), 40);
      await waitFor('every sample scored once', () => a.metrics.samplesScored + b.metrics.samplesScored === 800);
      expect(a.metrics.outOfOrderSamples + b.metrics.outOfOrderSamples).toBe(0);
      // Each series lives in exactly one process, which saw all 100 of its samples in order.
      for (const id of ids) expect([a.detectorModelVersion(id), b.detectorModelVersion(id)].filter((v) => v !== undefined)).toHaveLength(1);
      expect(a.trackedSeries + b.trackedSeries).toBe(8);
      expect(a.trackedSeries).toBeGreaterThan(0);
      expect(b.trackedSeries).toBeGreaterThan(0);
      // Samples are counted when scored, entries acknowledged with the batch's MULTI just after.
      const pendingOf = async (k: number): Promise<number> => (await bed.client.xpending(keys.samples, `analytics.s${k}`))[0] as number;
      await waitFor('every entry acknowledged by every shard', async () => (await Promise.all([0, 1, 2, 3].map(pendingOf))).every((n) => n === 0));
      const fromA = ids.filter((id) => a.detectorModelVersion(id) !== undefined);

      // a leaves: b takes its shards over and resumes a's series from their snapshots.
      await a.shutdown();
      await waitFor('b holds every shard', () => b.heldShards.length === 4, 20_000);
      const scoredBefore = b.metrics.samplesScored;
      await addSamples(bed.client, keys.samples, [{ ...rows(99, 100).find((r) => r.seriesId === fromA[0])! }, ...rows(100, 101)]);
      await waitFor('new samples scored by b', () => b.metrics.samplesScored === scoredBefore + 8);
      // The replayed sample of one of a's series was recognised from its restored state.
      expect(b.metrics.outOfOrderSamples).toBe(1);
      expect(b.trackedSeries).toBe(8);
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
    }
  });

  it('counts a bad entry once, not once per shard', async () => {
    const keys = redisKeys('shard-bad');
    const service = makeService(bed, { redisPrefix: 'shard-bad', dataDir: join(bed.dir, 'shard-bad'), shards: 3, leaseRenewMillis: 100 }, { detectorOptions: { useModel: false } });
    await service.start();
    try {
      await waitFor('all shards held', () => service.heldShards.length === 3);
      await bed.client.xadd(keys.samples, '*', 'garbage', 'x');
      await bed.client.xadd(keys.samples, '*', 's', cpuSeries('z'), 'a', 'z', 't', '1000', 'v', 'NaN');
      await addSamples(bed.client, keys.samples, [{ seriesId: cpuSeries('z'), agentId: 'z', timestampMillis: 2_000, value: 1 }]);
      // A batch with bad samples of several series (so of several shards) and good ones.
      const hosts = ['p', 'q', 'r', 's', 't', 'u'];
      const batch = { s: [...hosts.map(cpuSeries), ...hosts.map(cpuSeries), ''], a: 'z', t: 3_000, v: [...hosts.map(() => null), ...hosts.map((_, k) => k), 1] };
      await bed.client.xadd(keys.samples, '*', 'b', JSON.stringify(batch));
      await bed.client.xadd(keys.samples, '*', 'b', 'not json');
      await waitFor('scored', () => service.metrics.samplesScored === 7);
      await waitFor('bad entries counted', () => service.metrics.badEntries === 10);
      await new Promise((r) => setTimeout(r, 300));
      expect(service.metrics.badEntries).toBe(10);
      for (let k = 0; k < 3; k += 1) expect((await bed.client.xpending(keys.samples, `analytics.s${k}`))[0]).toBe(0);
    } finally {
      await service.shutdown();
    }
  });
});
