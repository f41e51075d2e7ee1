import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer, freePort } from '@sloth/core';
import { SlothProcess, eventually, getJson, startCollector } from './helpers/agent-processes.js';

interface SeriesView {
  key: string;
  name: string;
  agentId: string;
  labels: Record<string, string>;
}
interface PointView {
  key: string;
  name: string;
  agentId: string;
  t: number;
  v: number | null;
  labels: Record<string, string>;
}

/**
 * End to end with real processes: `sloth collector` (with a real Redis) and
 * `sloth agent`; the host metrics are read back through the collector's query API.
 */
describe('agent → collector, real processes', () => {
  let dir: string;
  let redis: RedisServer;
  let collector: SlothProcess;
  let agent: SlothProcess;
  let base: string;
  const token = 'e2e-agent-token';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-agent-e2e-'));
    redis = await RedisServer.start({ dir: join(dir, 'redis') });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    collector = await startCollector({ dataDir: join(dir, 'collector'), redisUrl: redis.url, redisPrefix: `e2e${port}`, port, token });
    const metricsPort = await freePort();
    agent = SlothProcess.spawn([
      'agent',
      '--collector', base,
      '--token', token,
      '--interval', '1',
      '--metrics-port', String(metricsPort),
      '--label', 'role=web',
      '--label', 'zone=a',
      '--data-dir', join(dir, 'agent-data'),
      '--log-level', 'info',
    ]);
    await agent.waitForOutput(/agent \S+ started/);
  }, 240_000);

  afterAll(async () => {
    await agent?.stop();
    await collector?.stop();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('host metrics arrive with plausible values, under the agent id kept in the state dir', { timeout: 180_000 }, async () => {
    const identity = JSON.parse(await readFile(join(dir, 'agent-data', 'agent', 'identity.json'), 'utf8')) as { agentId: string };
    const agentId = identity.agentId;

    const memLimit = await eventually(async () => {
      const { points } = await getJson<{ points: PointView[] }>(`${base}/api/v1/latest?name=system.memory.limit&agent=${agentId}`, token);
      return points[0];
    });
    expect(memLimit.v).toBe(os.totalmem());

    const { points: cpu } = await getJson<{ points: PointView[] }>(`${base}/api/v1/latest?name=system.cpu.utilization&agent=${agentId}`, token);
    expect(cpu.length).toBe(os.cpus().length + 1);
    for (const p of cpu) {
      expect(p.v).toBeGreaterThanOrEqual(0);
      expect(p.v).toBeLessThanOrEqual(1);
    }

    const { series } = await getJson<{ series: SeriesView[] }>(`${base}/api/v1/series?agent=${agentId}&limit=10000`, token);
    const names = new Set(series.map((s) => s.name));
    for (const name of [
      'system.cpu.utilization',
      'system.memory.usage',
      'system.memory.utilization',
      'system.paging.usage',
      'system.filesystem.usage',
      'system.network.io',
      'system.network.packets',
      'system.network.errors',
      'system.cpu.load_average.1m',
      'system.cpu.load_average.15m',
      'system.process.count',
      'system.uptime',
      'process.memory.usage',
      'nodejs.eventloop.delay.p99',
      'v8js.memory.heap.used',
    ]) {
      expect(names, name).toContain(name);
    }

    const used = series.find((s) => s.name === 'system.memory.usage' && s.labels.state === 'used')!;
    const samples = await eventually(async () => {
      const body = await getJson<{ points: Array<{ t: number; v: number }> }>(
        `${base}/api/v1/samples?series=${encodeURIComponent(used.key)}&from=-5m`,
        token,
      );
      return body.points.length >= 2 ? body.points : undefined;
    });
    for (const p of samples) {
      expect(p.v).toBeGreaterThan(0);
      expect(p.v).toBeLessThanOrEqual(os.totalmem());
    }

    const { agents } = await getJson<{ agents: Array<{ id: string; attributes: Record<string, string> }> }>(`${base}/api/v1/agents`, token);
    const me = agents.find((a) => a.id === agentId)!;
    expect(me.attributes['service.name']).toBe('sloth-agent');
    expect(me.attributes['sloth.agent.label.role']).toBe('web');
    expect(me.attributes['sloth.agent.label.zone']).toBe('a');
    expect(Number(me.attributes['sloth.agent.memory.total'])).toBe(os.totalmem());
  });

  it('keeps its id across a restart', { timeout: 180_000 }, async () => {
    const before = JSON.parse(await readFile(join(dir, 'agent-data', 'agent', 'identity.json'), 'utf8')) as { agentId: string };
    await agent.stop();
    agent = SlothProcess.spawn(['agent', '--collector', base, '--token', token, '--interval', '1', '--metrics-port', '0', '--data-dir', join(dir, 'agent-data')]);
    const started = await agent.waitForOutput(/agent (\S+) started/);
    expect(started[1]).toBe(before.agentId);
  });
});
