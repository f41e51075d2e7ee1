import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeJsonMessage, QueryClient, redisKeys, type ForecastMessage } from '@sloth/core';
import { AgentInventory, formatDecision, placeTask, ReservationLedger, type AgentSnapshot, type PlacementRequest, type PlacementSettings } from '../src/index.js';
import { CollectorDouble } from './collector-double.js';
import { startRedis, type Harness } from './helpers.js';

const now = 1_800_000_000_000;
const settings: PlacementSettings = { defaultStrategy: 'bin-pack', maxMetricsAgeMillis: 60_000, maxConcurrentPerAgent: 4 };
const request = (extra: Partial<PlacementRequest> = {}): PlacementRequest => ({ cpuCores: 1, memoryMb: 512, constraints: {}, affinities: [], ...extra });

function agent(id: string, extra: Partial<AgentSnapshot> = {}): AgentSnapshot {
  return { id, up: true, drained: false, labels: {}, cpuCores: 4, memoryMb: 8192, reservedCpuCores: 0, reservedMemoryMb: 0, running: 0, cpuUtilization: 0.2, memoryUtilization: 0.2, metricsAtMillis: now - 5000, recentCpuCores: 0, ...extra };
}

describe('placeTask (filter, then score)', () => {
  it('prints a decision as a sum read aloud: a negative term is "- x", never "+ -x"; one agent is "1 agent"', () => {
    // An agent forecast to be busy has a negative load term; an anti-affinity a negative affinity term.
    const decision = placeTask(request({ affinities: [{ label: 'disk', value: 'hdd', weight: -50 }] }), [agent('only', { labels: { disk: 'hdd' }, cpuUtilization: 0.95 })], settings, now);
    const lines = formatDecision(decision);
    expect(lines[1]).toBe('strategy bin-pack, 1 agent evaluated');
    const candidate = lines.find((line) => line.startsWith('    only'));
    expect(candidate).toMatch(/^ {4}only {2}-?\d\.\d{3} = \d\.\d{3} [+-] \d\.\d{3} - 0\.500 \+ 0\.000 {2}\(expected cpu load/);
    expect(lines.join('\n')).not.toContain('+ -');
  });

  it('filters by liveness, drain, constraints, stale metrics, concurrency and capacity, and says which and why', () => {
    const agents = [
      agent('down', { up: false }),
      agent('drained', { drained: true }),
      agent('wrong-zone', { labels: { zone: 'us' } }),
      agent('stale', { labels: { zone: 'eu' }, metricsAtMillis: now - 120_000 }),
      agent('busy', { labels: { zone: 'eu' }, running: 4 }),
      agent('full-cpu', { labels: { zone: 'eu' }, reservedCpuCores: 3.5 }),
      agent('full-memory', { labels: { zone: 'eu' }, reservedMemoryMb: 8000 }),
      agent('ok', { labels: { zone: 'eu' } }),
    ];
    const decision = placeTask(request({ constraints: { zone: 'eu' } }), agents, settings, now);
    expect(decision.agentId).toBe('ok');
    expect(decision.evaluated).toBe(8);
    expect(decision.filtered.down).toEqual({ count: 1, agents: ['down'] });
    expect(decision.filtered.drained?.agents).toEqual(['drained']);
    expect(decision.filtered.constraint).toEqual({ count: 1, agents: ['wrong-zone'], detail: 'needs label zone=eu' });
    expect(decision.filtered['stale-metrics']?.agents).toEqual(['stale']);
    expect(decision.filtered.concurrency?.agents).toEqual(['busy']);
    expect(decision.filtered.exhausted?.agents).toEqual(['full-cpu', 'full-memory']);
    expect(decision.exhausted).toEqual({ cpuCores: 1, memoryMb: 1 });
    expect(decision.candidates.map((c) => c.agentId)).toEqual(['ok']);
    expect(decision.explanation).toBe(
      'placed on ok (bin-pack, score ' + (decision.candidates[0]?.total.toFixed(3) ?? '') + ') among 8 evaluated (filtered: 1 down; 1 drained; 1 constraint (needs label zone=eu); 1 stale-metrics (no metrics within 60 s); 1 concurrency (at 4 tasks); 2 exhausted (cpu 1, memory 1))',
    );
  });

  it('bin-pack fills the fuller agent, spread the emptier; a task may override the cluster default', () => {
    const agents = [agent('empty'), agent('half', { reservedCpuCores: 2, reservedMemoryMb: 4096 })];
    // Same live load on both, so the strategy term decides.
    expect(placeTask(request(), agents, settings, now).agentId).toBe('half');
    expect(placeTask(request({ strategy: 'spread' }), agents, settings, now).agentId).toBe('empty');
    expect(placeTask(request(), agents, { ...settings, defaultStrategy: 'spread' }, now).agentId).toBe('empty');
    const packed = placeTask(request(), agents, settings, now).candidates;
    expect(packed[0]?.strategy).toBeCloseTo((3 / 4 + 4608 / 8192) / 2, 6);
  });

  it('weighs affinity and anti-affinity, and scores a retry’s previous agent lower', () => {
    const agents = [agent('a', { labels: { disk: 'ssd' } }), agent('b', { labels: { disk: 'hdd' } })];
    expect(placeTask(request({ affinities: [{ label: 'disk', value: 'ssd', weight: 50 }] }), agents, settings, now).agentId).toBe('a');
    expect(placeTask(request({ affinities: [{ label: 'disk', value: 'ssd', weight: -50 }] }), agents, settings, now).agentId).toBe('b');
    const retry = placeTask(request({ avoidAgents: ['a'] }), agents, settings, now);
    expect(retry.agentId).toBe('b');
    expect(retry.candidates.find((c) => c.agentId === 'a')?.retryPenalty).toBe(0.5);
  });

  it('prefers the agent forecast to stay idle over one forecast to get busy', () => {
    const agents = [agent('quiet-later', { cpuUtilization: 0.3, forecastCpuUtilization: 0.3 }), agent('busy-later', { cpuUtilization: 0.2, forecastCpuUtilization: 0.9 })];
    const decision = placeTask(request({ strategy: 'spread' }), agents, settings, now);
    expect(decision.agentId).toBe('quiet-later');
    // Without the forecast the live numbers would pick the other one.
    const live = placeTask(request({ strategy: 'spread' }), agents.map((a) => ({ ...a, forecastCpuUtilization: undefined })), settings, now);
    expect(live.agentId).toBe('busy-later');
  });

  it('waits with an explanation when nothing fits', () => {
    const decision = placeTask(request({ cpuCores: 3 }), [agent('a', { reservedCpuCores: 2 }), agent('b', { up: false })], settings, now);
    expect(decision.agentId).toBeNull();
    expect(decision.explanation).toBe('no agent fits 3 cpu cores and 512 MB among 2 evaluated (filtered: 1 down; 1 exhausted (cpu 1)); the task waits until one does');
  });
});

describe('reservations and the agent inventory (real Redis, collector API over HTTP)', () => {
  let h: Harness;
  const collector = new CollectorDouble();
  beforeAll(async () => {
    h = await startRedis();
    await collector.start();
  });
  afterAll(async () => {
    await collector.stop();
    await h.cleanup();
  });

  it('reserves against capacity and concurrency atomically and releases', async () => {
    const ledger = new ReservationLedger(h.redis, redisKeys(`${h.prefix}r`));
    const limits = { cpuCores: 4, memoryMb: 1000, maxConcurrent: 2 };
    expect(await ledger.reserve('a', { taskId: 't1', cpuCores: 3, memoryMb: 100, atMillis: 1 }, limits)).toBe('ok');
    expect(await ledger.reserve('a', { taskId: 't2', cpuCores: 2, memoryMb: 100, atMillis: 1 }, limits)).toBe('cpu');
    expect(await ledger.reserve('a', { taskId: 't2', cpuCores: 1, memoryMb: 950, atMillis: 1 }, limits)).toBe('memory');
    expect(await ledger.reserve('a', { taskId: 't2', cpuCores: 1, memoryMb: 100, atMillis: 1 }, limits)).toBe('ok');
    expect(await ledger.reserve('a', { taskId: 't3', cpuCores: 0, memoryMb: 1, atMillis: 1 }, limits)).toBe('concurrency');
    expect(await ledger.release('a', 't1')).toBe(true);
    expect(await ledger.release('a', 't1')).toBe(false);
    const held = await ledger.byAgent(['a', 'b']);
    expect(held.get('a')?.map((r) => r.taskId)).toEqual(['t2']);
    expect(held.get('b')).toEqual([]);
  });

  it('counts tasks placed seconds ago as load, so a burst does not pile onto one agent', async () => {
    const keys = redisKeys(`${h.prefix}i`);
    const ledger = new ReservationLedger(h.redis, keys);
    collector.set({ id: 'n1', cpuCores: 4, memoryMb: 8192, cpu: 0.2, memory: 0.1 }, { id: 'n2', cpuCores: 4, memoryMb: 8192, cpu: 0.25, memory: 0.1 });
    const inventory = new AgentInventory({ collector: new QueryClient({ baseUrl: collector.url }), ledger, redis: h.redis, keys, refreshMillis: 60_000 });
    const spread: PlacementSettings = { ...settings, defaultStrategy: 'spread', weights: { strategy: 0 } };
    const chosen: string[] = [];
    for (const taskId of ['b1', 'b2']) {
      const decision = placeTask(request(), await inventory.agents(), spread, Date.now());
      const agentId = decision.agentId as string;
      const reservation = { taskId, cpuCores: 1, memoryMb: 512, atMillis: Date.now() };
      expect(await ledger.reserve(agentId, reservation, { cpuCores: 4, memoryMb: 8192, maxConcurrent: 4 })).toBe('ok');
      inventory.applyReservation(agentId, reservation, 1);
      chosen.push(agentId);
    }
    // n1 is idler now; after one task its expected load (0.2 + 1/4) exceeds n2's 0.25.
    expect(chosen).toEqual(['n1', 'n2']);
    // A fresh inventory reads the same from Redis: the estimate is not local to one scheduler.
    const other = new AgentInventory({ collector: new QueryClient({ baseUrl: collector.url }), ledger, redis: h.redis, keys });
    const snapshot = await other.agents();
    expect(snapshot.map((a) => [a.id, a.recentCpuCores, a.running])).toEqual([
      ['n1', 1, 1],
      ['n2', 1, 1],
    ]);
  });

  it('reads capacity, labels, drain and the next 15 minutes of forecasts', async () => {
    const keys = redisKeys(`${h.prefix}f`);
    const ledger = new ReservationLedger(h.redis, keys);
    collector.agents.clear();
    collector.set({ id: 'f1', cpuCores: 8, memoryMb: 16384, cpu: 0.1, memory: 0.3, labels: { zone: 'eu' } }, { id: 'f2', cpuCores: 2, memoryMb: 2048, cpu: 0.1, memory: 0.3 });
    const nowMillis = Date.now();
    const forecast = (agentId: string, p90s: number[], metric = 'system.cpu.utilization'): ForecastMessage => ({
      seriesId: `${metric}{agent="${agentId}"}`,
      agentId,
      metric,
      issuedAtMillis: nowMillis,
      stepMillis: 300_000,
      points: p90s.map((p90, i) => ({ timestampMillis: nowMillis + (i + 1) * 300_000, p10: 0, p50: p90 / 2, p90 })),
      model: 'test',
      modelVersion: '1',
    });
    // f1: busy in 10 minutes; the spike at 20 minutes is beyond the 15-minute window.
    await h.redis.xadd(keys.forecasts, '*', ...encodeJsonMessage(forecast('f1', [0.2, 0.7, 0.1, 0.95])));
    await h.redis.xadd(keys.forecasts, '*', ...encodeJsonMessage(forecast('f2', [0.1, 0.1, 0.1])));
    await ledger.setDrained('f2', true);
    const inventory = new AgentInventory({ collector: new QueryClient({ baseUrl: collector.url }), ledger, redis: h.redis, keys });
    const snapshot = await inventory.agents();
    const f1 = snapshot.find((a) => a.id === 'f1');
    const f2 = snapshot.find((a) => a.id === 'f2');
    expect(f1).toMatchObject({ cpuCores: 8, memoryMb: 16384, labels: { zone: 'eu' }, drained: false, cpuUtilization: 0.1, memoryUtilization: 0.3, forecastCpuUtilization: 0.7 });
    expect(f2).toMatchObject({ drained: true, forecastCpuUtilization: 0.1 });
    // Later refreshes read only new entries: f2's new forecast replaces its old one, f1's is kept.
    await h.redis.xadd(keys.forecasts, '*', ...encodeJsonMessage(forecast('f2', [0.6, 0.4])));
    await h.redis.xadd(keys.forecasts, '*', 'data', '{not json');
    const later = await inventory.agents(true);
    expect(later.map((a) => [a.id, a.forecastCpuUtilization])).toEqual([
      ['f1', 0.7],
      ['f2', 0.6],
    ]);
  });
});
