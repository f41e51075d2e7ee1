import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriesId, type AnomalyEvent, type SampleFields } from '@sloth/core';
import type { AnalyticsService } from '../../src/index.js';
import { addToPrefix, makeService, publishedAnomalies, seasonalValue, startTestBed, stepMillis, waitFor, type TestBed } from './helpers.js';

let bed: TestBed;
beforeAll(async () => {
  bed = await startTestBed();
});
afterAll(async () => {
  await bed.close();
});

const base = Date.UTC(2026, 0, 1);

async function add(prefix: string, samples: readonly SampleFields[]): Promise<void> {
  await addToPrefix(bed, prefix, samples);
}

async function anomalies(prefix: string): Promise<AnomalyEvent[]> {
  return await publishedAnomalies(bed, prefix);
}

async function withService(prefix: string, flags: Record<string, unknown>, body: (service: AnalyticsService) => Promise<void>): Promise<void> {
  // The series are small numbers under host metric names, not bytes or fractions: the floors on the size of a change are off.
  const service = makeService(bed, { redisPrefix: prefix, dataDir: join(bed.dir, prefix), driftDetection: false, minChange: {}, ...flags }, { detectorOptions: { useModel: false } });
  await service.start();
  try {
    await body(service);
  } finally {
    await service.shutdown();
  }
}

const cpu = (agent: string): string => seriesId('system.cpu.utilization', { agent });
const memory = (agent: string): string => seriesId('system.memory.usage', { agent, state: 'used' });
const disk = (agent: string): string => seriesId('system.filesystem.usage', { agent, state: 'used' });

/** A level of 50 with deterministic noise (±1) and a 3-sample rise of `height` at `at`. */
function series(id: string, agent: string, phase: number, count: number, at: number, height: number): SampleFields[] {
  return Array.from({ length: count }, (_, i) => ({
    seriesId: id,
    agentId: agent,
    timestampMillis: base + i * stepMillis,
    value: 50 + (seasonalValue(i, phase) - 50 - 20 * Math.sin((2 * Math.PI * i) / 60 + phase)) + (i >= at && i < at + 3 ? height : 0),
    kind: 'gauge' as const,
  }));
}

/**
 * Host h1: CPU and memory rise at step 400 (one group), its filesystem 200 steps later (a group of
 * its own). Host h2: CPU rises at step 400 too, but it is another agent (another group).
 */
function hosts(count: number): SampleFields[] {
  return [
    ...series(cpu('h1'), 'h1', 1, count, 400, 40),
    ...series(memory('h1'), 'h1', 2, count, 400, 8),
    ...series(disk('h1'), 'h1', 3, count, 600, 40),
    ...series(cpu('h2'), 'h2', 1, count, 400, 40),
  ];
}

describe('correlated incidents', () => {
  it("groups one agent's incidents that open close together, ranked by peak score, and no others", async () => {
    const samples = hosts(700);
    await withService('groups', { incidentGroupMillis: 2 * stepMillis }, async (service) => {
      await add('groups', samples);
      await waitFor('every sample scored', () => service.metrics.samplesScored === samples.length);
    });
    const events = await anomalies('groups');
    const opens = events.filter((e) => e.state === 'open');
    const openOf = (id: string): AnomalyEvent => {
      const found = opens.filter((e) => e.seriesId === id);
      expect(found, id).toHaveLength(1);
      return found[0]!;
    };
    const [cpu1, memory1, disk1, cpu2] = [openOf(cpu('h1')), openOf(memory('h1')), openOf(disk('h1')), openOf(cpu('h2'))];
    expect(opens).toHaveLength(4);
    // Every transition carries its incident's group.
    for (const e of events) expect(e.groupId, `${e.seriesId} ${e.state ?? ''}`).toBe(opens.find((o) => o.incidentId === e.incidentId)!.groupId);
    expect(cpu1.groupId).toBe(memory1.groupId);
    expect(new Set([cpu1.groupId, disk1.groupId, cpu2.groupId]).size).toBe(3);

    // The group as the last transition of its incidents shows it: both incidents, ranked by their peak score.
    const shared = events.filter((e) => e.groupId === cpu1.groupId);
    const last = shared[shared.length - 1]!;
    expect(last.group?.incidents).toBe(2);
    const members = last.group!.members;
    expect(members.map((m) => m.incidentId).sort()).toEqual([cpu1.incidentId, memory1.incidentId].sort());
    // The CPU rose 40 noise widths, the memory 8: the CPU ranks first.
    expect(members.map((m) => m.incidentId)).toEqual([cpu1.incidentId, memory1.incidentId]);
    expect(members[0]!.peakScore).toBeGreaterThan(members[1]!.peakScore);
    for (const m of members) {
      const latest = shared.filter((e) => e.incidentId === m.incidentId).pop()!;
      expect(m).toMatchObject({ seriesId: latest.seriesId, metric: latest.metric, direction: 'above', peakScore: latest.peakScore, state: latest.state });
    }
    expect(last.group!.firstSeenMillis).toBe(Math.min(cpu1.firstSeenMillis!, memory1.firstSeenMillis!));
    // A lone incident is a group of one.
    expect(disk1.group).toMatchObject({ incidents: 1, members: [{ incidentId: disk1.incidentId, seriesId: disk('h1') }] });
  });

  it('keeps the group across a restart of the service in the middle of the incidents', async () => {
    const samples = hosts(460);
    // Both incidents have opened by step 402 (at 400 with the detector's default constants; with the
    // options of 65c9416 the memory's rise scored under the threshold and opened as a confirmed
    // excursion 2 samples in); they resolve at 405.
    const before = samples.filter((s) => s.timestampMillis <= base + 402 * stepMillis);
    const after = samples.filter((s) => s.timestampMillis > base + 402 * stepMillis);
    await withService('groups-restart', { incidentGroupMillis: 2 * stepMillis }, async (service) => {
      await add('groups-restart', before);
      await waitFor('the first part scored', () => service.metrics.samplesScored === before.length);
    });
    const opened = (await anomalies('groups-restart')).filter((e) => e.state === 'open' && e.agentId === 'h1');
    expect(opened).toHaveLength(2);
    expect(opened[0]!.groupId).toBe(opened[1]!.groupId);
    await withService('groups-restart', { incidentGroupMillis: 2 * stepMillis }, async (service) => {
      await add('groups-restart', after);
      await waitFor('the rest scored', () => service.metrics.samplesScored === after.length);
    });
    const later = (await anomalies('groups-restart')).filter((e) => e.agentId === 'h1' && e.state !== 'open');
    expect(later.filter((e) => e.state === 'resolved')).toHaveLength(2);
    for (const e of later) expect(e.groupId).toBe(opened[0]!.groupId);
  });

  it('adds no group when grouping is off', async () => {
    const samples = hosts(460);
    await withService('groups-off', { incidentGroupMillis: 0 }, async (service) => {
      await add('groups-off', samples);
      await waitFor('every sample scored', () => service.metrics.samplesScored === samples.length);
    });
    const events = await anomalies('groups-off');
    expect(events.filter((e) => e.state === 'open')).toHaveLength(3);
    for (const e of events) expect([e.groupId, e.group]).toEqual([undefined, undefined]);
  });
});
