/**
 * Analytics → playbook triggers with a real redis-server: the incident transitions the analytics
 * service publishes for a CPU dip match no `above` trigger (the shipped kill-top-cpu, or a bare
 * `direction = "above"`), while the same service's transitions for a CPU burn do. `matchTriggers`
 * is what the scheduler and `sloth playbook test` match with.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anomalyEventSchema, decodeJsonMessage, encodeSampleBatch, RedisServer, redisKeys, seriesId, sleep, type AnomalyEvent, type SampleFields } from '@sloth/core';
import { AnalyticsService, loadAnalyticsConfig } from '@sloth/analytics';
import { loadPlaybook, matchTriggers, type PlaybookMetadata } from '@sloth/agent';

let dir: string;
let redis: RedisServer;
let client: Redis;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-live-triggers-'));
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  client = new Redis(redis.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

const base = Date.UTC(2026, 0, 1);
const tenSeconds = 10_000;

/** Deterministic noise in [-0.5, 0.5). */
function noise(i: number): number {
  const x = Math.sin(i * 12.9898) * 43758.5453;
  return x - Math.floor(x) - 0.5;
}

/** An idle CPU (8 %) for 460 samples at 10 s, with `fault` (value) for samples 400–411. */
function cpu(fault: (i: number) => number): SampleFields[] {
  const id = seriesId('system.cpu.utilization', { agent: 'h1', cpu: '1' });
  return Array.from({ length: 460 }, (_, i) => ({
    seriesId: id,
    agentId: 'h1',
    timestampMillis: base + i * tenSeconds,
    value: i >= 400 && i < 412 ? fault(i) : 0.08 + 0.01 * noise(i),
    kind: 'gauge' as const,
  }));
}

/** The transitions the analytics service (default settings, statistics-only detector) publishes for `samples`. */
async function transitions(prefix: string, samples: readonly SampleFields[]): Promise<AnomalyEvent[]> {
  const config = loadAnalyticsConfig({
    env: {},
    flags: { dataDir: join(dir, prefix), redisUrl: redis.url, redisPrefix: prefix, metricsPort: 0, startupQuietMillis: 0, blockMillis: 100, forecastIntervalMillis: 3_600_000, logLevel: 'silent' },
  });
  const service = new AnalyticsService(config, { detectorOptions: { useModel: false } });
  await service.start();
  try {
    const pipeline = client.pipeline();
    for (let i = 0; i < samples.length; i += 100) pipeline.xadd(redisKeys(prefix).samples, '*', ...encodeSampleBatch(samples.slice(i, i + 100)));
    await pipeline.exec();
    const deadline = Date.now() + 60_000;
    while (service.metrics.samplesScored < samples.length) {
      if (Date.now() > deadline) throw new Error(`scored ${service.metrics.samplesScored} of ${samples.length} samples in 60 s`);
      await sleep(50);
    }
  } finally {
    await service.shutdown();
  }
  return (await client.xrange(redisKeys(prefix).anomalies, '-', '+')).map(([, fields]) => decodeJsonMessage(fields, anomalyEventSchema));
}

async function shipped(name: string): Promise<PlaybookMetadata> {
  const file = fileURLToPath(new URL(`../playbooks/${name}.lua`, import.meta.url));
  return (await loadPlaybook(readFileSync(file, 'utf8'), file)).metadata;
}

const triggered = (events: readonly AnomalyEvent[], playbook: PlaybookMetadata): AnomalyEvent[] => events.filter((anomaly) => matchTriggers(playbook, { source: 'anomaly', anomaly }).length > 0);

const inline = (triggers: PlaybookMetadata['triggers']): PlaybookMetadata => ({ name: 't', description: '', version: '1', params: {}, requiresApproval: false, triggers });

describe('incidents against playbook triggers', () => {
  it('a CPU dip is an incident below its range and matches no above trigger; a burn matches them', async () => {
    const killTopCpu = await shipped('kill-top-cpu');
    const above = inline([{ anomaly: { metric: 'system.cpu.*', direction: 'above' } }]);
    const any = inline([{ anomaly: { metric: 'system.cpu.*' } }]);

    const dip = await transitions('dip', cpu(() => 0.0005 * (1 + noise(1))));
    expect(dip.filter((e) => e.state === 'open')).toHaveLength(1);
    expect(dip.every((e) => e.direction === 'below')).toBe(true);
    // It lasts well past kill-top-cpu's 20 s: only the direction keeps it from matching.
    expect(Math.max(...dip.map((e) => e.timestampMillis - e.firstSeenMillis!))).toBeGreaterThanOrEqual(20_000);
    expect(triggered(dip, killTopCpu)).toEqual([]);
    expect(triggered(dip, above)).toEqual([]);
    expect(triggered(dip, any).map((e) => e.state)).toEqual(['open']);

    const burn = await transitions('burn', cpu((i) => 0.97 + 0.005 * noise(i)));
    expect(burn.filter((e) => e.state === 'open')).toHaveLength(1);
    expect(burn.every((e) => e.direction === 'above')).toBe(true);
    expect(triggered(burn, above).map((e) => e.state)).toEqual(['open']);
    const kills = triggered(burn, killTopCpu);
    expect(kills.length).toBeGreaterThanOrEqual(1);
    expect(kills.every((e) => e.state === 'update' && e.timestampMillis - e.firstSeenMillis! >= 20_000)).toBe(true);
  });
});
