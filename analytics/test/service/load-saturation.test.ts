import { describe, expect, it } from 'vitest';
import { parseSeriesId, seriesId, type AnomalyEvent, type SampleFields } from '@sloth/core';
import { loadAnalyticsConfig } from '../../src/index.js';
import { LoadSaturation } from '../../src/service/load-saturation.js';
import { RecordedReplay } from '../../src/service/recorded-replay.js';
import { normalNoise } from './helpers.js';

const base = Date.UTC(2026, 0, 1);
const second = 1_000;
const load1m = seriesId('system.cpu.load_average.1m', { agent: 'h2' });

/** Openings of a load average in a statistics-only replay through the service's scoring path. */
async function loadOpens(flags: Record<string, unknown>, samples: readonly SampleFields[]): Promise<AnomalyEvent[]> {
  const config = loadAnalyticsConfig({ env: {}, flags: { dataDir: '.', metricsPort: 0, startupQuietMillis: 0, ...flags } });
  const replay = new RecordedReplay(config, { detectorOptions: { useModel: false }, startedMillis: base });
  const events: AnomalyEvent[] = [];
  for (const s of samples) {
    const { name, labels } = parseSeriesId(s.seriesId);
    const event = await replay.push({ seriesId: s.seriesId, metric: name, labels, agentId: s.agentId, timestampMillis: s.timestampMillis, value: s.value, kind: s.kind ?? 'gauge' });
    if (event?.state === 'open' && event.seriesId === load1m) events.push(event);
  }
  return events;
}

/**
 * A quiet host of `cores` cores at 1 s (per-core CPU at ~3 %, 1-minute load at ~0.05); from sample 600
 * on, `tasks` runnable tasks for `holdSeconds`, the load average following them with the kernel's
 * one-minute time constant (then decaying again).
 */
function host(cores: number, tasks: number, holdSeconds: number): SampleFields[] {
  const n = normalNoise(17);
  const samples: SampleFields[] = [];
  let load = 0.05;
  for (let i = 0; i < 1_200; i += 1) {
    const at = base + i * second;
    for (let c = 0; c < cores; c += 1) samples.push({ seriesId: seriesId('system.cpu.utilization', { agent: 'h2', cpu: String(c) }), agentId: 'h2', timestampMillis: at, value: Math.max(0, 0.03 + 0.005 * n()) });
    const running = i >= 600 && i < 600 + holdSeconds ? tasks : 0.05;
    load = running + (load - running) * Math.exp(-1 / 60);
    samples.push({ seriesId: load1m, agentId: 'h2', timestampMillis: at, value: Math.max(0, load + 0.002 * n()) });
  }
  return samples;
}

describe('a load average opens an incident only at saturation (loadSaturationPerCore, replay)', () => {
  it('a quiet 2-core host whose load jumps to ~0.6 for a moment opens nothing by default; without the gate it opened one', async () => {
    const blip = host(2, 8, 5);
    expect(Math.max(...blip.filter((s) => s.seriesId === load1m).map((s) => s.value))).toBeGreaterThan(0.5);
    expect((await loadOpens({ loadSaturationPerCore: 0 }, blip)).map((e) => e.direction)).toContain('above');
    expect(await loadOpens({}, blip)).toEqual([]);
  });

  it('three tasks queued on 2 cores for five minutes open one incident above by default', async () => {
    const overload = await loadOpens({}, host(2, 3, 300));
    expect(overload.map((e) => e.direction)).toEqual(['above']);
    const open = overload[0] as AnomalyEvent;
    expect(open.value).toBeGreaterThanOrEqual(2);
    expect(open.firstSeenMillis).toBeGreaterThan(base + 600 * second);
  });

  it('the core count is the host own: 1.5 tasks open on a 1-core host, not on a 2-core one', async () => {
    expect((await loadOpens({}, host(1, 1.5, 300))).map((e) => e.direction)).toEqual(['above']);
    expect(await loadOpens({}, host(2, 1.5, 300))).toEqual([]);
  });
});

describe('LoadSaturation (pure)', () => {
  const ref = (metric: string, labels: Record<string, string> = {}, agentId = 'a'): { seriesId: string; metric: string; agentId: string } => ({ seriesId: seriesId(metric, { agent: agentId, ...labels }), metric, agentId });

  it('counts a host cores from its per-core CPU series, and gates load averages only', () => {
    const gate = new LoadSaturation(1);
    const load = ref('system.cpu.load_average.5m');
    expect(gate.mayOpen(load, 0.9)).toBe(false);
    expect(gate.mayOpen(load, 1)).toBe(true);
    gate.observe(ref('system.cpu.utilization', { cpu: '0' }));
    gate.observe(ref('system.cpu.utilization', { cpu: '1' }));
    gate.observe(ref('system.cpu.utilization', { cpu: '1' }));
    gate.observe(ref('system.cpu.utilization'));
    expect(gate.mayOpen(load, 1.9)).toBe(false);
    expect(gate.mayOpen(load, 2)).toBe(true);
    expect(gate.mayOpen(ref('system.cpu.load_average.5m', {}, 'b'), 1)).toBe(true);
    expect(gate.mayOpen(ref('system.memory.usage'), 0)).toBe(true);
    expect(new LoadSaturation(0).mayOpen(load, 0)).toBe(true);
  });

  it('refuses a negative or non-finite share, naming it', () => {
    expect(() => new LoadSaturation(-1)).toThrow(/loadSaturationPerCore.*-1/);
    expect(() => new LoadSaturation(Number.NaN)).toThrow(/loadSaturationPerCore/);
  });
});
