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

  it('lists the configured scaling targets', async () => {
    const body = (await (await fetch(url('/api/v1/scaling'))).json()) as { targets: Array<{ name: string; mode: string; lastDecision: unknown }> };
    expect(body.targets).toEqual([expect.objectContaining({ name: 'web', mode: 'forecast-only', lastDecision: null })]);
    const missing = await fetch(url('/api/v1/scaling/nope/decisions'));
    expect(missing.status).toBe(404);
  });
});
