import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { redisKeys } from '@sloth/core';
import { AgentPlaybookHost, type HostTelemetry } from '../../src/jobs/agent-playbook-host.js';
import { CustomMetrics } from '../../src/metrics/custom-metrics.js';
import { PlaybookRuntime, loadPlaybook, runPlaybook } from '../../src/playbook/index.js';
import { tempDir } from '../playbook/helpers.js';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/**
 * A playbook's `log.*` records leave the agent as OTel log records for the collector: what they quote of the
 * run's secret params (a webhook URL, a token) must be masked before they leave, as the run's report is.
 */
const runtime = new PlaybookRuntime({ workers: 1 });
const temp = tempDir('log-secrets');
const meters = new MeterProvider();

beforeAll(async () => {
  await runtime.start();
});
afterAll(async () => {
  await runtime.shutdown();
  await meters.shutdown();
  temp.cleanup();
});

describe('the agent playbook host exports log records with secrets masked', () => {
  it('masks a secret param quoted in a log message and in attributes, and webhook shapes, and keeps the rest', async () => {
    const emitted: Array<{ body: string; attributes: Record<string, unknown> }> = [];
    const telemetry: HostTelemetry = {
      customMetrics: new CustomMetrics(meters.getMeter('t')),
      emitLog: (_severity, body, attributes = {}) => void emitted.push({ body, attributes }),
      systemCpu: () => ({ utilization: 0 }) as ReturnType<HostTelemetry['systemCpu']>,
      systemMemory: () => ({ utilization: 0 }) as ReturnType<HostTelemetry['systemMemory']>,
    };
    // Never connected: log records do not touch Redis.
    const redis = new Redis({ lazyConnect: true });
    const host = new AgentPlaybookHost({ agentId: 'a1', telemetry, redis, keys: redisKeys('t'), stateDir: temp.dir });
    const source = `return {
      name = "notify", description = "d",
      params = { api_token = { type = "string", required = true }, channel = { type = "string", default = "ops" } },
      run = function(ctx)
        log.info("posting with " .. ctx.params.api_token .. " to " .. ctx.params.channel, { token = ctx.params.api_token, url = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX", channel = ctx.params.channel })
        return true, "done"
      end }`;
    const playbook = await loadPlaybook(source, 'notify.lua', runtime);
    const secret = 'tok-4f9a8b7c6d5e4f3a';
    const result = await runPlaybook(playbook, { host, params: { api_token: secret }, runtime });
    expect(result.ok).toBe(true);
    expect(emitted).toHaveLength(1);
    const [record] = emitted;
    const text = JSON.stringify(record);
    expect(text).not.toContain(secret);
    expect(text).not.toContain('XXXXXXXXXXXXXXXXXXXXXXXX');
    expect(record?.body).toBe('posting with *** to ops');
    expect(record?.attributes).toMatchObject({ channel: 'ops', 'sloth.playbook.name': 'notify' });
    redis.disconnect();
  });
});
