import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort, sleep } from '@sloth/core';
import { Agent, loadAgentConfig } from '../src/index.js';
import { OtlpSink } from './helpers/otlp-sink.js';
import { decodeLogs, decodeMetrics } from './helpers/otlp-decode.js';

async function waitFor(predicate: () => boolean, timeoutMillis = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

describe('Agent', () => {
  let dir: string;
  let sink: OtlpSink;
  let agent: Agent | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-agent-'));
    sink = new OtlpSink();
    await sink.start();
  });
  afterEach(async () => {
    await agent?.shutdown();
    agent = undefined;
    await sink.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function config(extra: Record<string, unknown> = {}): ReturnType<typeof loadAgentConfig> {
    return loadAgentConfig({
      file: undefined,
      env: {},
      flags: { collector: sink.url, token: 'agent-test-token', interval: 1, metricsPort: 0, dataDir: dir, logLevel: 'info', hostMetrics: false, ...extra },
    });
  }

  it('exports health transitions as a metric and a log record, its own logs as OTel records, and writes its log file', async () => {
    const closedPort = await freePort();
    const { parse } = await import('yaml');
    const checks = parse(`
- { name: db, type: tcp, target: "127.0.0.1:${closedPort}", interval: 0.2, timeout: 1, failureThreshold: 2 }
- { name: always, type: command, argv: ["${process.execPath}", "-e", "0"], interval: 0.2 }
`) as unknown[];
    agent = new Agent(config({ checks }), { stdout: false });
    await agent.start();
    const transitions: string[] = [];
    agent.health.onTransition((t) => transitions.push(`${t.check}:${t.to}`));
    await waitFor(() => transitions.includes('db:unhealthy') && agent!.health.overall() === 'unhealthy');
    await waitFor(() => agent!.health.report().checks.find((c) => c.name === 'always')!.state === 'healthy');

    await waitFor(() => {
      const logs = sink.requests.filter((r) => r.path === '/v1/logs').flatMap((r) => decodeLogs(r.body));
      return logs.some((l) => l.body.startsWith('health check db: unknown → unhealthy') && l.attributes['sloth.check.to'] === 'unhealthy');
    });
    const logs = sink.requests.filter((r) => r.path === '/v1/logs').flatMap((r) => decodeLogs(r.body));
    expect(logs.some((l) => l.body === `agent ${agent!.id} started`)).toBe(true);
    expect(logs.every((l) => !JSON.stringify(l).includes('agent-test-token'))).toBe(true);

    await waitFor(() =>
      sink.requests
        .filter((r) => r.path === '/v1/metrics')
        .flatMap((r) => decodeMetrics(r.body))
        .some((p) => p.name === 'sloth.agent.check.status' && p.attributes.check === 'db' && p.value === 0),
    );
    const points = sink.requests.filter((r) => r.path === '/v1/metrics').flatMap((r) => decodeMetrics(r.body));
    expect(points.filter((p) => p.name === 'sloth.agent.health').at(-1)?.value).toBe(0);
    expect(points.some((p) => p.name === 'sloth.agent.check.transitions' && p.attributes.check === 'db' && p.attributes.to === 'unhealthy')).toBe(true);

    const logFile = await readFile(join(dir, 'agent', 'agent.log'), 'utf8');
    expect(logFile).toContain('health check db: unknown → unhealthy');
    expect(logFile).not.toContain('agent-test-token');
  });

  it('keeps its id in the state dir across restarts', async () => {
    agent = new Agent(config(), { stdout: false });
    await agent.start();
    const id = agent.id;
    await agent.shutdown();
    agent = new Agent(config(), { stdout: false });
    await agent.start();
    expect(agent.id).toBe(id);
    expect(JSON.parse(await readFile(join(dir, 'agent', 'identity.json'), 'utf8')).agentId).toBe(id);
  });
});

describe('Agent with Redis', () => {
  it('publishes health-check transitions on the events stream for the scheduler', async () => {
    const { RedisServer, redisKeys, decodeJsonMessage, slothEventSchema } = await import('@sloth/core');
    const { Redis } = await import('ioredis');
    const dir = await mkdtemp(join(tmpdir(), 'sloth-agent-events-'));
    const sink = new OtlpSink();
    await sink.start();
    const redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    const closedPort = await freePort();
    const agent = new Agent(
      loadAgentConfig({
        file: undefined,
        env: {},
        flags: {
          collector: sink.url, token: 'agent-test-token', interval: 1, metricsPort: 0, dataDir: dir, logLevel: 'silent', hostMetrics: false,
          redisUrl: redis.url, redisPrefix: 'evt', remediation: false,
          checks: [{ name: 'db', type: 'tcp', target: `127.0.0.1:${closedPort}`, interval: 0.2, timeout: 1, failureThreshold: 1 }],
        },
      }),
      { stdout: false },
    );
    const client = new Redis(redis.url);
    try {
      await agent.start();
      let events: Array<{ type: string; agentId?: string; attributes: Record<string, unknown> }> = [];
      for (let i = 0; i < 100 && events.length === 0; i += 1) {
        await sleep(100);
        const entries = await client.xrange(redisKeys('evt').events, '-', '+');
        events = entries.map(([, fields]) => decodeJsonMessage(fields, slothEventSchema)).filter((e) => e.type === 'health_check');
      }
      expect(events[0]).toMatchObject({ type: 'health_check', agentId: agent.id, attributes: { check: 'db', state: 'unhealthy', previous: 'unknown' } });
    } finally {
      client.disconnect();
      await agent.shutdown();
      await sink.stop();
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
