import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer, freePort, sleep } from '@sloth/core';
import { SlothProcess, eventually, getJson, startCollector } from './helpers/agent-processes.js';

/**
 * The durable-export promise with real processes: stop the collector, keep
 * the agent collecting every second, start the collector again, and every
 * collection made during the outage arrives (no gap in the series).
 */
describe('agent keeps every sample through a collector outage', () => {
  let dir: string;
  let redis: RedisServer;
  let collector: SlothProcess;
  let agent: SlothProcess;
  let base: string;
  let port: number;
  let collectorArgs: Parameters<typeof startCollector>[0];
  const token = 'outage-test-token';
  // SLOTH_TEST_OUTAGE_SECONDS=600 reproduces the 10-minute outage (slow; not the CI default).
  const outageMillis = Number(process.env.SLOTH_TEST_OUTAGE_SECONDS ?? '12') * 1000;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-agent-outage-'));
    redis = await RedisServer.start({ dir: join(dir, 'redis') });
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    collectorArgs = { dataDir: join(dir, 'collector'), redisUrl: redis.url, redisPrefix: `outage${port}`, port, token };
    collector = await startCollector(collectorArgs);
    agent = SlothProcess.spawn(['agent', '--collector', base, '--token', token, '--interval', '1', '--metrics-port', '0', '--data-dir', join(dir, 'agent-data'), '--log-level', 'info']);
    await agent.waitForOutput(/agent \S+ started/);
  }, 240_000);

  afterAll(async () => {
    await agent?.stop();
    await collector?.stop();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('replays the spool in order after the collector comes back: no gap', { timeout: 120_000 + outageMillis * 1.5 }, async () => {
    const { agentId } = JSON.parse(await readFile(join(dir, 'agent-data', 'agent', 'identity.json'), 'utf8')) as { agentId: string };
    const seriesKey = await eventually(async () => {
      const { series } = await getJson<{ series: Array<{ key: string }> }>(`${base}/api/v1/series?agent=${agentId}&name=system.uptime`, token);
      return series[0]?.key;
    });
    await sleep(2000);

    const outageStart = Date.now();
    expect(await collector.stop()).toBe(0);
    await sleep(outageMillis);
    // While the collector is away the batches pile up on disk.
    const spooled = (await readdir(join(dir, 'agent-data', 'agent', 'spool'))).filter((n) => n.endsWith('.otlp'));
    expect(spooled.length).toBeGreaterThanOrEqual(5);
    expect(agent.stdout).toContain('collector unavailable; spooling export batches to disk');
    const outageEnd = Date.now();
    collector = await startCollector(collectorArgs);

    const points = await eventually(async () => {
      const body = await getJson<{ points: Array<{ t: number; v: number }> }>(
        `${base}/api/v1/samples?series=${encodeURIComponent(seriesKey)}&from=${outageStart - 5000}&to=${outageEnd + 5000}`,
        token,
      );
      const last = body.points.at(-1);
      return last !== undefined && last.t >= outageEnd + 2000 ? body.points : undefined;
    }, 60_000 + outageMillis / 5);

    const times = points.map((p) => p.t);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const during = times.filter((t) => t > outageStart && t < outageEnd);
    // One collection a second: the outage must be covered, not skipped.
    expect(during.length).toBeGreaterThanOrEqual(Math.floor((outageMillis / 1000) * 0.7));
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // A lost stretch would leave a gap as long as the outage; scheduling jitter stays far below it.
    expect(Math.max(...gaps)).toBeLessThan(4000);
    // Uptime grows by about the time between two samples: each point is a real collection, not a copy.
    expect(points.at(-1)!.v - points[0]!.v).toBeGreaterThan((points.at(-1)!.t - points[0]!.t) / 1000 - 3);

    await eventually(async () => ((await readdir(join(dir, 'agent-data', 'agent', 'spool'))).some((n) => n.endsWith('.otlp')) ? undefined : true));
    expect(agent.stdout).toContain('collector reachable again');
  });
});
