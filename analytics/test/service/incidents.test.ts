import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys, seriesId, type AnomalyEvent, type SampleFields } from '@sloth/core';
import type { AnalyticsService } from '../../src/index.js';
import { addToPrefix, publishedAnomalies, seasonalValue, startTestBed, stepMillis, waitFor, withStatsService, type TestBed } from './helpers.js';

let bed: TestBed;
beforeAll(async () => {
  bed = await startTestBed();
});
afterAll(async () => {
  await bed.close();
});

const base = Date.UTC(2026, 0, 1);

/** Deterministic noise in [-0.5, 0.5). */
function noise(i: number): number {
  const x = Math.sin(i * 12.9898) * 43758.5453;
  return x - Math.floor(x) - 0.5;
}

async function add(prefix: string, samples: readonly SampleFields[]): Promise<void> {
  await addToPrefix(bed, prefix, samples);
}

async function anomalies(prefix: string): Promise<AnomalyEvent[]> {
  return await publishedAnomalies(bed, prefix);
}

async function withService(prefix: string, flags: Record<string, unknown>, body: (service: AnalyticsService) => Promise<void>): Promise<void> {
  await withStatsService(bed, prefix, flags, body);
}

/** A cumulative counter growing ~100/s (1-minute steps), with a restart (reset to ~0) at `resetAt`. */
function counter(id: string, count: number, resetAt?: number): SampleFields[] {
  const samples: SampleFields[] = [];
  let total = 1e6;
  for (let i = 0; i < count; i += 1) {
    if (i === resetAt) total = 0;
    total += 60 * (100 + 5 * noise(i));
    samples.push({ seriesId: id, agentId: 'h1', timestampMillis: base + i * stepMillis, value: total, kind: 'cumulative' });
  }
  return samples;
}

describe('incidents from the samples stream', () => {
  it('scores a counter at a steady rate as a rate and raises nothing, across a counter reset too', async () => {
    const steady = seriesId('system.network.io', { agent: 'h1', direction: 'transmit' });
    const restarted = seriesId('system.disk.io', { agent: 'h1', direction: 'read' });
    const samples = [...counter(steady, 400), ...counter(restarted, 400, 250)];
    await withService('counters', {}, async (service) => {
      await add('counters', samples);
      // The first point of each counter and the reset point have no rate: 3 points are not scored.
      await waitFor('every rate scored', () => service.metrics.samplesScored === samples.length - 3);
      expect(service.metrics.badEntries).toBe(0);
    });
    expect(await anomalies('counters')).toEqual([]);
  });

  it('turns an injected step into one incident that opens, updates and resolves, above the expected range', async () => {
    const id = seriesId('system.memory.usage', { agent: 'h1', state: 'used' });
    const stepAt = 400;
    const stepLength = 8;
    const samples: SampleFields[] = [];
    for (let i = 0; i < 440; i += 1) {
      // A step that keeps rising while it lasts (a runaway process): every sample of it is anomalous.
      const step = i >= stepAt && i < stepAt + stepLength ? 60 * 2 ** (i - stepAt) : 0;
      samples.push({ seriesId: id, agentId: 'h1', timestampMillis: base + i * stepMillis, value: seasonalValue(i, 0) + step, kind: 'gauge' });
    }
    // openInsideRange: the step's first sample (+60) is surprising but still inside the expected range.
    // The values are small numbers, not bytes: the floors on the size of a change (tested below) are off.
    await withService('step', { minChange: {}, anomalyThreshold: 0.5, incidentUpdateMillis: 2 * stepMillis, incidentQuietMillis: 5 * stepMillis, openInsideRange: true }, async (service) => {
      await add('step', samples);
      await waitFor('every sample scored', () => service.metrics.samplesScored === samples.length);
    });
    // By default a score alone opens nothing inside the expected range: the same step opens on a value beyond it.
    await withService('step-outside', { minChange: {}, anomalyThreshold: 0.5, incidentUpdateMillis: 2 * stepMillis, incidentQuietMillis: 5 * stepMillis }, async (service) => {
      await add('step-outside', samples);
      await waitFor('every sample scored', () => service.metrics.samplesScored === samples.length);
    });
    const outside = (await anomalies('step-outside')).filter((e) => e.state === 'open');
    expect(outside).toHaveLength(1);
    expect(outside[0]!.timestampMillis).toBeGreaterThan(base + stepAt * stepMillis);
    expect(outside[0]!.value).toBeGreaterThan(outside[0]!.expectedHigh!);
    const events = await anomalies('step');
    expect(events.filter((e) => e.state === 'open')).toHaveLength(1);
    const open = events.find((e) => e.state === 'open')!;
    expect(open).toMatchObject({ seriesId: id, direction: 'above', timestampMillis: base + stepAt * stepMillis, firstSeenMillis: base + stepAt * stepMillis });
    expect(open.value).toBeCloseTo(seasonalValue(stepAt, 0) + 60, 6);
    const incident = events.filter((e) => e.incidentId === open.incidentId);
    expect(incident).toEqual(events);
    expect(incident.map((e) => e.state)).toEqual(['open', ...incident.slice(1, -1).map(() => 'update'), 'resolved']);
    expect(incident.filter((e) => e.state === 'update').length).toBeGreaterThanOrEqual(1);
    const resolved = incident[incident.length - 1]!;
    // Resolved after the quiet period (5 minutes of sample time after the last anomalous sample), once the fault is over.
    const lastUpdate = incident[incident.length - 2]!;
    expect(resolved.timestampMillis).toBeGreaterThanOrEqual(lastUpdate.timestampMillis + 5 * stepMillis);
    expect(resolved.timestampMillis).toBeGreaterThanOrEqual(base + (stepAt + stepLength) * stepMillis);
    expect(resolved.timestampMillis).toBeLessThan(base + 440 * stepMillis);
    expect(resolved.peakScore).toBeGreaterThanOrEqual(open.score);
  });

  it('keeps a sustained CPU burn one incident that lasts (updates carry its duration) although the detector damps its score after firing', async () => {
    const id = seriesId('system.cpu.utilization', { agent: 'h1' });
    const tenSeconds = 10_000;
    const samples: SampleFields[] = [];
    for (let i = 0; i < 460; i += 1) {
      const burning = i >= 400 && i < 412;
      samples.push({ seriesId: id, agentId: 'h1', timestampMillis: base + i * tenSeconds, value: burning ? 0.97 + 0.005 * noise(i) : 0.08 + 0.01 * noise(i) });
    }
    await withService('burn', {}, async (service) => {
      await add('burn', samples);
      await waitFor('every sample scored', () => service.metrics.samplesScored === samples.length);
    });
    const events = await anomalies('burn');
    expect(events.filter((e) => e.state === 'open')).toHaveLength(1);
    expect(new Set(events.map((e) => e.incidentId)).size).toBe(1);
    expect(events.every((e) => e.direction === 'above')).toBe(true);
    const longest = Math.max(...events.filter((e) => e.state === 'update').map((e) => e.timestampMillis - e.firstSeenMillis!));
    // 12 samples of burn at 10 s: the last update is at least 100 s into the incident.
    expect(longest).toBeGreaterThanOrEqual(100_000);
    expect(events[events.length - 1]).toMatchObject({ state: 'resolved' });
    expect(events[events.length - 1]!.timestampMillis).toBeGreaterThan(base + 411 * tenSeconds);
  });

  it('says a dip is below the expected range', async () => {
    const id = seriesId('system.cpu.utilization', { agent: 'h1' });
    const samples: SampleFields[] = [];
    for (let i = 0; i < 420; i += 1) samples.push({ seriesId: id, agentId: 'h1', timestampMillis: base + i * stepMillis, value: seasonalValue(i, 1) - (i === 400 ? 60 : 0) });
    await withService('dip', { anomalyThreshold: 0.5 }, async (service) => {
      await add('dip', samples);
      await waitFor('every sample scored', () => service.metrics.samplesScored === samples.length);
    });
    const opens = (await anomalies('dip')).filter((e) => e.state === 'open');
    expect(opens).toHaveLength(1);
    expect(opens[0]).toMatchObject({ direction: 'below', timestampMillis: base + 400 * stepMillis });
  });

  it("does not score Sloth's own telemetry by default, nor the agent's own process, nor loopback traffic", async () => {
    const own = [
      seriesId('sloth.agent.export.queue.size', { agent: 'h1' }),
      seriesId('process.memory.usage', { agent: 'h1' }),
      seriesId('nodejs.eventloop.delay.max', { agent: 'h1' }),
      seriesId('system.network.io', { agent: 'h1', device: 'lo', direction: 'transmit' }),
    ];
    const samples: SampleFields[] = [];
    for (let i = 0; i < 300; i += 1) for (const id of own) samples.push({ seriesId: id, agentId: 'h1', timestampMillis: base + i * stepMillis, value: i === 250 ? 1e9 : seasonalValue(i, 2) });
    const host = seriesId('system.cpu.utilization', { agent: 'h1' });
    for (let i = 0; i < 10; i += 1) samples.push({ seriesId: host, agentId: 'h1', timestampMillis: base + i * stepMillis, value: 0.5 });
    await withService('own', {}, async (service) => {
      await add('own', samples);
      await waitFor('every sample taken', () => service.metrics.samplesExcluded + service.metrics.samplesScored === samples.length);
      expect(service.metrics.samplesExcluded).toBe(1200);
      expect(service.trackedSeries).toBe(1);
    });
    expect(await anomalies('own')).toEqual([]);
    // Configurable: with no exclusions the spike of the export queue is an incident.
    await withService('own-scored', { excludeMetrics: [] }, async (service) => {
      await add('own-scored', samples);
      await waitFor('every sample scored', () => service.metrics.samplesScored === samples.length);
    });
    expect((await anomalies('own-scored')).some((e) => e.state === 'open' && e.metric === 'sloth.agent.export.queue.size')).toBe(true);
  });

  it('raises nothing while shutting down, nor during the start-up of the next process', async () => {
    const id = seriesId('system.memory.usage', { agent: 'h1' });
    const at = (i: number, extra = 0): SampleFields => ({ seriesId: id, agentId: 'h1', timestampMillis: base + i * stepMillis, value: seasonalValue(i, 0) + extra });
    const normal = Array.from({ length: 400 }, (_, i) => at(i));
    const spike = Array.from({ length: 5 }, (_, k) => at(400 + k, 80));
    let scoredBeforeRestart = 0;
    // Small numbers, not bytes: the floors on the size of a change are off, so only the quiet keeps it silent.
    await withService('lifecycle', { minChange: {} }, async (service) => {
      await add('lifecycle', normal);
      await waitFor('every sample scored', () => service.metrics.samplesScored === normal.length);
      // The spike arrives while the service stops (what a role's shutdown does to its own metrics):
      // whatever of it this process still reads is scored without opening an incident.
      const stopping = service.shutdown();
      await add('lifecycle', spike);
      await stopping;
      scoredBeforeRestart = service.metrics.samplesScored;
    });
    expect(await anomalies('lifecycle')).toEqual([]);
    // The next process reads the rest during its start-up quiet: scored, no incident.
    await withService('lifecycle', { minChange: {}, startupQuietMillis: 600_000 }, async (service) => {
      await waitFor('the whole spike scored', () => scoredBeforeRestart + service.metrics.samplesScored === normal.length + spike.length);
      await waitFor('the spike acknowledged', async () => (await bed.client.xpending(redisKeys('lifecycle').samples, 'analytics'))[0] === 0);
    });
    expect(await anomalies('lifecycle')).toEqual([]);
    // The same spike with no start-up quiet is an incident: the quiet is what kept it silent.
    await withService('lifecycle-control', { minChange: {} }, async (service) => {
      await add('lifecycle-control', [...normal, ...spike]);
      await waitFor('every sample scored', () => service.metrics.samplesScored === normal.length + spike.length);
    });
    expect((await anomalies('lifecycle-control')).filter((e) => e.state === 'open')).toHaveLength(1);
  });
  it('opens nothing for a change below the floor of its metric (an idle NIC starting to send 300 KB/s), one incident for a large one', async () => {
    const id = seriesId('system.network.io', { agent: 'h1', device: 'eth0', direction: 'transmit' });
    /** A NIC that sent nothing for 400 minutes, then `bytesPerSecond` for 6 minutes. */
    const traffic = (bytesPerSecond: number): SampleFields[] => {
      let total = 5e6;
      return Array.from({ length: 420 }, (_, i) => {
        if (i >= 400 && i < 406) total += (stepMillis / 1000) * bytesPerSecond * (1 + 0.05 * noise(i));
        return { seriesId: id, agentId: 'h1', timestampMillis: base + i * stepMillis, value: total, kind: 'cumulative' as const };
      });
    };
    const opens = async (prefix: string, flags: Record<string, unknown>, samples: readonly SampleFields[]): Promise<AnomalyEvent[]> => {
      await withService(prefix, flags, async (service) => {
        await add(prefix, samples);
        await waitFor('every rate scored', () => service.metrics.samplesScored === samples.length - 1);
      });
      return (await anomalies(prefix)).filter((e) => e.state === 'open');
    };
    // 300 KB/s is under the 1 MiB/s floor of byte rates: nothing, although the detector scores it 1…
    expect(await opens('floor-small', {}, traffic(300e3))).toEqual([]);
    // …as the same data with the floors off shows: the floor is what keeps it quiet.
    const unfloored = await opens('floor-off', { minChange: {} }, traffic(300e3));
    expect(unfloored).toHaveLength(1);
    expect(unfloored[0]!.score).toBeGreaterThanOrEqual(0.68);
    // 50 MB/s is far beyond the floor: one incident, above, at the first sample of traffic.
    const large = await opens('floor-large', {}, traffic(50e6));
    expect(large).toHaveLength(1);
    expect(large[0]).toMatchObject({ seriesId: id, direction: 'above', timestampMillis: base + 400 * stepMillis });
    // A floor set for the metric in the configuration replaces the defaults: 100 MB/s keeps 50 MB/s quiet.
    expect(await opens('floor-raised', { minChange: { 'system.network.*': 100e6 } }, traffic(50e6))).toEqual([]);
  });

  it('opens nothing for a 70 MiB step of a root filesystem (a checkout; under its 100 MiB floor), one incident for a disk filling', async () => {
    const id = seriesId('system.filesystem.usage', { agent: 'h1', device: '/dev/vda', mountpoint: '/', state: 'used' });
    /** 50 GB used, moving by a few KB, then `stepBytes` at once at sample 400, or `fillPerSample` from 400 on. */
    const disk = (stepBytes: number, fillPerSample: number): SampleFields[] =>
      Array.from({ length: 430 }, (_, i) => {
        const value = 50e9 + 4096 * Math.round(10 * noise(i)) + (i >= 400 ? stepBytes + fillPerSample * (i - 399) : 0);
        return { seriesId: id, agentId: 'h1', timestampMillis: base + i * stepMillis, value };
      });
    const opens = async (prefix: string, flags: Record<string, unknown>, samples: readonly SampleFields[]): Promise<AnomalyEvent[]> => {
      await withService(prefix, flags, async (service) => {
        await add(prefix, samples);
        await waitFor('every sample scored', () => service.metrics.samplesScored === samples.length);
      });
      return (await anomalies(prefix)).filter((e) => e.state === 'open');
    };
    const checkout = disk(70 * 2 ** 20, 0);
    expect(await opens('fs-step', {}, checkout)).toEqual([]);
    // The floor is what keeps it quiet: without floors the same step opens.
    expect(await opens('fs-step-off', { minChange: {} }, checkout)).toHaveLength(1);
    // A disk filling at 50 MB a sample opens one incident, above.
    const filling = await opens('fs-fill', {}, disk(0, 50e6));
    expect(filling).toHaveLength(1);
    expect(filling[0]).toMatchObject({ seriesId: id, direction: 'above' });
  });

  it('opens an incident on a saturation the detector damps (it fired on a spike just before) once it has stayed beyond the range for 2 more samples', async () => {
    const id = seriesId('system.cpu.utilization', { agent: 'h1', cpu: '0' });
    const samples: SampleFields[] = [];
    for (let i = 0; i < 330; i += 1) {
      // A one-sample spike at 250 makes the detector fire and then damp its alarms for hundreds of samples.
      let value = 0.08 + 0.01 * noise(i);
      if (i === 250) value = 0.6;
      if (i >= 300 && i < 315) value = 0.97 + 0.01 * noise(i);
      samples.push({ seriesId: id, agentId: 'h1', timestampMillis: base + i * stepMillis, value });
    }
    const saturationOpens = async (prefix: string, flags: Record<string, unknown>): Promise<AnomalyEvent[]> => {
      await withService(prefix, flags, async (service) => {
        await add(prefix, samples);
        await waitFor('every sample scored', () => service.metrics.samplesScored === samples.length);
      });
      return (await anomalies(prefix)).filter((e) => e.state === 'open' && e.timestampMillis >= base + 300 * stepMillis);
    };
    const opens = await saturationOpens('excursion', {});
    expect(opens).toHaveLength(1);
    expect(opens[0]).toMatchObject({ direction: 'above', cause: 'score', timestampMillis: base + 302 * stepMillis });
    expect(opens[0]!.score).toBeGreaterThanOrEqual(0.68);
    // Without the test the damped detector says nothing for the first samples of the saturation.
    const without = await saturationOpens('excursion-off', { excursionConfirmSamples: 0 });
    expect(without.filter((e) => e.timestampMillis <= base + 302 * stepMillis)).toEqual([]);
  });
});
