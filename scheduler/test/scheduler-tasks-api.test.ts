import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scheduler } from '../src/index.js';
import { CollectorDouble } from './collector-double.js';
import { startRedis, startScheduler, testPlaybook, type Harness } from './helpers.js';

let h: Harness;
let scheduler: Scheduler;
const collector = new CollectorDouble();

beforeAll(async () => {
  h = await startRedis();
  await collector.start();
  collector.set({ id: 'a1', cpuCores: 2, memoryMb: 2048, cpu: 0.1, memory: 0.1 });
  scheduler = await startScheduler(h, [testPlaybook('backup', () => false)], {
    tasks: { collectorUrl: collector.url, defaultStrategy: 'spread' },
    scaling: [{ name: 'web', demandSeries: 'http.server.requests{agent="a1"}', capacityPerReplica: 10, minReplicas: 1, maxReplicas: 4, startupSeconds: 60 }],
  });
});
afterAll(async () => {
  await scheduler.shutdown();
  await collector.stop();
  await h.cleanup();
});

describe('the scheduler serves task and scaling routes on its API', () => {
  const url = (path: string): string => `http://127.0.0.1:${scheduler.listening.port}${path}`;

  it('plans, submits and shows a task; refuses an unknown strategy with 400', async () => {
    const spec = { playbook: 'backup', resources: { cpuCores: 1, memoryMb: 100 } };
    const plan = await fetch(url('/api/v1/tasks/plan'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
    expect(plan.status).toBe(200);
    expect(await plan.json()).toMatchObject({ agentId: 'a1', strategy: 'spread', evaluated: 1 });
    const bad = await fetch(url('/api/v1/tasks'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...spec, strategy: 'random' }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'SLOTH_ERR_INPUT' });
    const created = await fetch(url('/api/v1/tasks'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const shown = await fetch(url(`/api/v1/tasks/${id}`));
    expect(((await shown.json()) as { id: string }).id).toBe(id);
    const list = (await (await fetch(url('/api/v1/tasks'))).json()) as { tasks: Array<{ id: string }> };
    expect(list.tasks.map((t) => t.id)).toEqual([id]);
  });

  it('drains an agent at once (the next plan filters it), refuses an id the collector does not know naming the known ones, and lists drained agents', async () => {
    const post = (path: string, body: unknown = {}): Promise<Response> => fetch(url(path), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const plan = async (): Promise<{ agentId: string | null; filtered: Record<string, { agents: string[] }> }> =>
      (await (await post('/api/v1/tasks/plan', { playbook: 'backup', resources: { cpuCores: 1, memoryMb: 100 } })).json()) as { agentId: string | null; filtered: Record<string, { agents: string[] }> };
    const typo = await post('/api/v1/agents/a2/drain');
    expect(typo.status).toBe(404);
    expect(await typo.json()).toMatchObject({ code: 'SLOTH_ERR_NOT_FOUND', message: 'no agent with id "a2"; known agents: a1' });
    expect(await (await fetch(url('/api/v1/agents/drained'))).json()).toEqual({ agents: [] });
    // The scheduler's cached agent picture is fresh (the refusal read it); a submission right after the
    // drain, which places on that cached picture, already sees it (no refresh interval to wait).
    expect((await plan()).agentId).toBe('a1');
    expect((await post('/api/v1/agents/a1/drain')).status).toBe(200);
    const submitted = (await (await post('/api/v1/tasks', { playbook: 'backup', resources: { cpuCores: 1, memoryMb: 100 } })).json()) as { id: string; state: string };
    expect(submitted.state).toBe('queued');
    expect((await post(`/api/v1/tasks/${submitted.id}/cancel`)).status).toBe(200);
    const whileDrained = await plan();
    expect(whileDrained.agentId).toBeNull();
    expect(whileDrained.filtered.drained?.agents).toEqual(['a1']);
    expect(await (await fetch(url('/api/v1/agents/drained'))).json()).toEqual({ agents: ['a1'] });
    expect((await post('/api/v1/agents/a2/undrain')).status).toBe(404);
    expect((await post('/api/v1/agents/a1/undrain')).status).toBe(200);
    expect((await plan()).agentId).toBe('a1');
  });

  it('lists the configured scaling targets', async () => {
    const body = (await (await fetch(url('/api/v1/scaling'))).json()) as { targets: Array<{ name: string; mode: string; lastDecision: unknown }> };
    expect(body.targets).toEqual([expect.objectContaining({ name: 'web', mode: 'forecast-only', lastDecision: null })]);
    const missing = await fetch(url('/api/v1/scaling/nope/decisions'));
    expect(missing.status).toBe(404);
  });
});
