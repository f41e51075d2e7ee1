import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { remediationResultsStream } from '@sloth/core';
import type { Scheduler } from '../src/index.js';
import { anomaly, cpuAnomaly, eventually, startRedis, startScheduler, testPlaybook, xaddJson, type Harness } from './helpers.js';

let h: Harness;
let scheduler: Scheduler | undefined;

beforeEach(async () => {
  h = await startRedis();
});

afterEach(async () => {
  await scheduler?.shutdown();
  scheduler = undefined;
  await h.cleanup();
});

describe('scheduler: playbook configuration', () => {
  it('does not load a playbook whose required parameter has no configured value; loads it once configured', async () => {
    const webhook = testPlaybook('notify-webhook', cpuAnomaly, {
      requiredParams: ['url'],
      checkParams: (params) => (typeof params.url === 'string' ? [] : ["param 'url' is required (string)"]),
    });
    const fix = testPlaybook('cpu-fix', cpuAnomaly);
    scheduler = await startScheduler(h, [webhook, fix], { cooldownSeconds: 0 });
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1'));
    const records = await eventually(() => (scheduler!.auditStore.list().length > 0 ? scheduler!.auditStore.list() : undefined));
    // The trigger was handled (cpu-fix), and notify-webhook had no part in it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(scheduler.auditStore.list().map((r) => r.playbook)).toEqual(['cpu-fix']);
    expect(records).toHaveLength(1);
    // Tasks bring their own parameters: the playbook triggers may not run is still one a task may run,
    // and a submission without its required parameter is refused before anything is queued.
    const resources = { cpuCores: 0.1, memoryMb: 16 };
    await expect(scheduler.taskService.manager.validate({ playbook: 'notify-webhook', params: { url: 'https://hooks.example/T1' }, resources })).resolves.toMatchObject({ playbook: 'notify-webhook' });
    await expect(scheduler.taskService.manager.validate({ playbook: 'notify-webhook', resources })).rejects.toThrow("invalid task: playbook notify-webhook: param 'url' is required (string)");
    await scheduler.shutdown();

    scheduler = await startScheduler(h, [webhook], { cooldownSeconds: 0, playbookParams: { 'notify-webhook': { url: 'https://hooks.example/T0' } } });
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-2'));
    const configured = await eventually(() => scheduler!.auditStore.list().find((r) => r.playbook === 'notify-webhook'));
    expect(configured.agentId).toBe('web-2');
  });

  it('a run refused for its parameters does not hold the cooldown; any other failure does', async () => {
    scheduler = await startScheduler(h, [testPlaybook('cpu-fix', cpuAnomaly)], { cooldownSeconds: 600 });
    const keys = scheduler.keys;
    const runAndFail = async (agentId: string, error: string): Promise<void> => {
      await xaddJson(h.redis, keys.anomalies, anomaly(agentId));
      const record = await eventually(() => scheduler!.auditStore.list().find((r) => r.agentId === agentId && r.state === 'queued'));
      await xaddJson(h.redis, remediationResultsStream(keys), { remediationId: record.id, agentId, state: 'failed', attempt: 1, atMillis: Date.now(), ok: false, error });
      await eventually(() => (scheduler!.auditStore.get(record.id)?.state === 'failed' ? true : undefined));
    };
    await runAndFail('web-1', "SLOTH_ERR_INPUT: invalid params for playbook 'cpu-fix': param 'unit' is required (string)");
    await xaddJson(h.redis, keys.anomalies, anomaly('web-1'));
    const web1 = await eventually(() => {
      const list = scheduler!.auditStore.list().filter((r) => r.agentId === 'web-1');
      return list.length === 2 ? list : undefined;
    });
    expect(web1.map((r) => r.state).sort()).toEqual(['failed', 'queued']);

    await runAndFail('web-2', 'SLOTH_ERR_PLAYBOOK_EXEC: kill failed');
    await xaddJson(h.redis, keys.anomalies, anomaly('web-2'));
    const web2 = await eventually(() => {
      const list = scheduler!.auditStore.list().filter((r) => r.agentId === 'web-2');
      return list.length === 2 ? list : undefined;
    });
    expect(web2.map((r) => r.state).sort()).toEqual(['failed', 'skipped_cooldown']);
  });
});
