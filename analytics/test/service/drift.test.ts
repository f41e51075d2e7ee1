import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSampleBatch, redisKeys, seriesId, type AnomalyEvent, type SampleFields } from '@sloth/core';
import { DriftDetector } from '../../src/detector/drift.js';
import { makeService, normalNoise, publishedAnomalies, startTestBed, stepMillis, waitFor, type TestBed } from './helpers.js';

const normal = normalNoise;

describe('drift test (pure)', () => {
  it('stays quiet on white noise and on a random walk, and ignores single spikes', () => {
    for (const [name, series] of [
      ['noise', (n: () => number) => (i: number) => 100 + n() + (i % 997 === 0 ? 50 : 0)],
      ['walk', (n: () => number) => { let level = 0; return () => (level += n()); }],
    ] as const) {
      const drift = new DriftDetector();
      const next = series(normal(11));
      let alarms = 0;
      for (let i = 0; i < 20_000; i += 1) if (drift.update(next(i)) .alarm !== null) alarms += 1;
      expect({ name, alarms }).toEqual({ name, alarms: 0 });
    }
  });

  it('alarms above on a leak of 2 noise deviations per sample within a few samples, below on a drop', () => {
    for (const sign of [1, -1]) {
      const drift = new DriftDetector();
      const n = normal(5);
      for (let i = 0; i < 500; i += 1) expect(drift.update(100 + n()).alarm).toBeNull();
      let firstAlarm: { at: number; alarm: string; shift: number } | undefined;
      for (let k = 0; k < 30 && firstAlarm === undefined; k += 1) {
        const { alarm, shift } = drift.update(100 + sign * 2 * (k + 1) + n());
        if (alarm !== null) firstAlarm = { at: k, alarm, shift };
      }
      expect(firstAlarm?.alarm).toBe(sign > 0 ? 'above' : 'below');
      expect(firstAlarm?.at).toBeLessThanOrEqual(6);
      // The shift is in the series' units: the leak's 2 per sample over the windows' halves, with the alarm's sign.
      expect(Math.sign(firstAlarm!.shift)).toBe(sign);
      expect(Math.abs(firstAlarm!.shift)).toBeGreaterThan(4);
      expect(Math.abs(firstAlarm!.shift)).toBeLessThan(2 * 2 * (firstAlarm!.at + 1) + 4);
    }
  });

  it('restores from its snapshot and goes on where it was', () => {
    const a = new DriftDetector();
    const n = normal(3);
    for (let i = 0; i < 300; i += 1) a.update(n());
    const b = new DriftDetector();
    b.restore(JSON.parse(JSON.stringify(a.snapshot())) as ReturnType<DriftDetector['snapshot']>);
    for (let i = 0; i < 50; i += 1) {
      const v = i * 3 + n();
      expect(b.update(v)).toEqual(a.update(v));
    }
  });

  it('refuses window lengths it cannot split in two', () => {
    expect(() => new DriftDetector({ windows: [7] })).toThrow(/even integers ≥ 4, got 7/);
  });
});

let bed: TestBed;
beforeAll(async () => {
  bed = await startTestBed();
});
afterAll(async () => {
  await bed.close();
});

async function anomalies(prefix: string): Promise<AnomalyEvent[]> {
  return await publishedAnomalies(bed, prefix);
}

describe('drift incidents through the service (real Redis)', () => {
  // Memory used: noise around 2 GB, then a leak of 2 noise deviations per sample that stays inside
  // the range the series has shown (it swung wider once, early on), so no single value is unlikely.
  const base = Date.UTC(2026, 0, 1);
  const id = seriesId('system.memory.usage', { agent: 'h1', state: 'used' });
  const leakAt = 700;
  const samples: SampleFields[] = [];
  const n = normal(21);
  for (let i = 0; i < leakAt + 40; i += 1) {
    const swing = i >= 100 && i < 110 ? 4e8 : 0;
    const leak = i >= leakAt ? 2e7 * (i - leakAt + 1) : 0;
    samples.push({ seriesId: id, agentId: 'h1', timestampMillis: base + i * stepMillis, value: 2e9 + 1e7 * n() + swing + leak, kind: 'gauge' });
  }

  async function run(prefix: string, flags: Record<string, unknown>): Promise<AnomalyEvent[]> {
    const service = makeService(bed, { redisPrefix: prefix, dataDir: join(bed.dir, prefix), startupQuietMillis: 0, ...flags }, { detectorOptions: { useModel: false } });
    await service.start();
    try {
      const pipeline = bed.client.pipeline();
      for (let i = 0; i < samples.length; i += 100) pipeline.xadd(redisKeys(prefix).samples, '*', ...encodeSampleBatch(samples.slice(i, i + 100)));
      await pipeline.exec();
      await waitFor('every sample scored', () => service.metrics.samplesScored === samples.length);
    } finally {
      await service.shutdown();
    }
    return (await anomalies(prefix)).filter((e) => e.timestampMillis >= base + 200 * stepMillis);
  }

  it('a slow leak the score misses opens one drift incident above, within a few samples', async () => {
    const withoutDrift = await run('nodrift', { driftDetection: false });
    expect(withoutDrift.filter((e) => e.state === 'open' && e.timestampMillis < base + (leakAt + 20) * stepMillis)).toEqual([]);
    const opens = (await run('drift', {})).filter((e) => e.state === 'open');
    expect(opens).toHaveLength(1);
    const open = opens[0] as AnomalyEvent;
    expect(open).toMatchObject({ seriesId: id, direction: 'above', cause: 'drift', state: 'open' });
    const delay = (open.timestampMillis - (base + leakAt * stepMillis)) / stepMillis;
    expect(delay).toBeGreaterThanOrEqual(0);
    expect(delay).toBeLessThanOrEqual(8);
    expect(open.score).toBeGreaterThanOrEqual(0.68);
  });
});
