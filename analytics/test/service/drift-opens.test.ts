import { describe, expect, it } from 'vitest';
import { parseSeriesId, seriesId, type AnomalyEvent, type SampleFields } from '@sloth/core';
import { loadAnalyticsConfig } from '../../src/index.js';
import { trackIncident, type IncidentPolicy, type ScoredSample } from '../../src/service/incident-tracker.js';
import { RecordedReplay } from '../../src/service/recorded-replay.js';
import { normalNoise } from './helpers.js';

const base = Date.UTC(2026, 0, 1);
const second = 1_000;

/** Incident openings of a statistics-only replay of `samples` through the service's scoring path. */
async function opens(flags: Record<string, unknown>, samples: readonly SampleFields[]): Promise<AnomalyEvent[]> {
  const config = loadAnalyticsConfig({ env: {}, flags: { dataDir: '.', metricsPort: 0, startupQuietMillis: 0, ...flags } });
  const replay = new RecordedReplay(config, { detectorOptions: { useModel: false }, startedMillis: base });
  const events: AnomalyEvent[] = [];
  for (const s of samples) {
    const { name, labels } = parseSeriesId(s.seriesId);
    const event = await replay.push({ seriesId: s.seriesId, metric: name, labels, agentId: s.agentId, timestampMillis: s.timestampMillis, value: s.value, kind: s.kind ?? 'gauge' });
    if (event?.state === 'open') events.push(event);
  }
  return events;
}

const cpu = seriesId('system.cpu.utilization', { agent: 'h1' });

/** Host CPU at 1 s: 10 % ± 3 points, and from sample 600 on `step` higher. */
function cpuHost(step: number): SampleFields[] {
  const n = normalNoise(11);
  const samples: SampleFields[] = [];
  for (let i = 0; i < 900; i += 1) samples.push({ seriesId: cpu, agentId: 'h1', timestampMillis: base + i * second, value: Math.max(0, 0.1 + 0.03 * n() + (i >= 600 ? step : 0)) });
  return samples;
}

describe('a drift opens only beyond the expected range on its side (driftOpens beyondRange, replay)', () => {
  it('a noisy CPU moving 6 points within its own band opens nothing; the same drift opened one inside the range before', async () => {
    const inside = await opens({ driftOpens: 'always' }, cpuHost(0.06));
    expect(inside.map((e) => [e.direction, e.cause])).toEqual([['above', 'drift']]);
    const open = inside[0] as AnomalyEvent;
    // The event that contradicted itself: "above the expected range", its own value inside it.
    expect(open.value).toBeGreaterThanOrEqual(open.expectedLow as number);
    expect(open.value).toBeLessThanOrEqual(open.expectedHigh as number);
    expect(await opens({ driftOpens: 'beyondRange' }, cpuHost(0.06))).toEqual([]);
  });

  it('a step beyond the range still opens one incident above', async () => {
    const beyond = await opens({ driftOpens: 'beyondRange' }, cpuHost(0.5));
    expect(beyond.map((e) => e.direction)).toEqual(['above']);
    expect((beyond[0] as AnomalyEvent).firstSeenMillis).toBeGreaterThanOrEqual(base + 600 * second);
  });
});

describe('trackIncident: when a drift alarm may open (pure)', () => {
  const policy: IncidentPolicy = { threshold: 0.68, quietMillis: 120_000, quietSamples: 3, updateMillis: 15_000, peakStep: 0.05 };
  const sample = (value: number, drift: 'above' | 'below', range: [number | null, number | null], rangeBefore?: [number | null, number | null]): ScoredSample => ({
    seriesId: 's',
    agentId: 'h1',
    metric: 'm',
    timestampMillis: base,
    value,
    score: 0.7,
    expectedLow: range[0],
    expectedHigh: range[1],
    modelVersion: 'stats',
    previousValue: value,
    drift,
    ...(rangeBefore === undefined ? {} : { rangeBefore: { low: rangeBefore[0], high: rangeBefore[1] } }),
  });
  const opened = (s: ScoredSample, driftOpens: IncidentPolicy['driftOpens']): string | undefined => trackIncident({ incident: undefined }, s, { ...policy, driftOpens }, true)?.state;

  it('always (the old rule) opens inside the range; beyondRange only beyond the edge on the drift side, or without a range', () => {
    expect(opened(sample(5, 'above', [0, 10]), 'always')).toBe('open');
    expect(opened(sample(5, 'above', [0, 10]), 'beyondRange')).toBeUndefined();
    expect(opened(sample(10, 'above', [0, 10]), 'beyondRange')).toBeUndefined();
    expect(opened(sample(11, 'above', [0, 10]), 'beyondRange')).toBe('open');
    expect(opened(sample(-1, 'above', [0, 10]), 'beyondRange')).toBeUndefined();
    expect(opened(sample(-1, 'below', [0, 10]), 'beyondRange')).toBe('open');
    expect(opened(sample(5, 'below', [null, null]), 'beyondRange')).toBe('open');
  });

  it('beyondRangeBefore compares with the range before the drift, and with the sample own range when none was kept', () => {
    expect(opened(sample(5, 'above', [0, 10], [0, 4]), 'beyondRangeBefore')).toBe('open');
    expect(opened(sample(5, 'above', [4, 6], [0, 10]), 'beyondRangeBefore')).toBeUndefined();
    expect(opened(sample(5, 'above', [0, 10]), 'beyondRangeBefore')).toBeUndefined();
  });
});

const load1m = seriesId('system.cpu.load_average.1m', { agent: 'h2' });

/**
 * A quiet host at 1 s: the 1-minute load average at 0.2 (± 0.003), from sample 600 rising 0.002 a second
 * for 2 minutes (a 30 s half-window shift of 0.06), then holding; `cores` per-core CPU series at ~3 %.
 */
function loadHost(cores: number): SampleFields[] {
  const n = normalNoise(13);
  const samples: SampleFields[] = [];
  for (let i = 0; i < 900; i += 1) {
    const at = base + i * second;
    for (let c = 0; c < cores; c += 1) samples.push({ seriesId: seriesId('system.cpu.utilization', { agent: 'h2', cpu: String(c) }), agentId: 'h2', timestampMillis: at, value: Math.max(0, 0.03 + 0.002 * n()) });
    const rise = i < 600 ? 0 : 0.002 * Math.min(120, i - 599);
    samples.push({ seriesId: load1m, agentId: 'h2', timestampMillis: at, value: 0.2 + 0.003 * n() + rise });
  }
  return samples;
}

describe('a load average change must reach a share of the host cores (loadFloorPerCore, replay)', () => {
  const loadOpens = async (flags: Record<string, unknown>, cores: number): Promise<AnomalyEvent[]> => (await opens({ driftOpens: 'always', ...flags }, loadHost(cores))).filter((e) => e.seriesId === load1m);

  it('a rise of 0.06 per 30 s opens a drift without the floor, nothing on 2 cores at 0.05 per core, one on a host of 1 core', async () => {
    expect((await loadOpens({ loadFloorPerCore: 0 }, 2)).map((e) => [e.direction, e.cause])).toEqual([['above', 'drift']]);
    expect(await loadOpens({ loadFloorPerCore: 0.05 }, 2)).toEqual([]);
    expect((await loadOpens({ loadFloorPerCore: 0.05 }, 1)).map((e) => e.direction)).toEqual(['above']);
  });
});
