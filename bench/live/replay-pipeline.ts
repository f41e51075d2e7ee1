/**
 * The pipeline the replay benchmarks (run.ts, calibrate.ts) send their synthetic hosts through: a temp
 * dir, its own redis-server, a real `sloth collector` process (no auth, ephemeral ports) and the
 * analytics service in this process with the statistics-only detector (the TF.js model trains in the
 * background and would make runs differ). Everything is on the Redis prefix `live`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, RedisServer, seededNormalNoise, sleep } from '@sloth/core';
import { AnalyticsService, loadAnalyticsConfig, type AnalyticsConfig } from '@sloth/analytics';
import { Redis } from 'ioredis';
import { ToolUsageError } from '../tool-args.js';
import { repoRoot } from './up-process.js';

export const replayPrefix = 'live';

export interface ReplayPipeline {
  /** Base URL of the collector's OTLP/HTTP receiver (`…/v1/metrics` takes the hosts' points). */
  readonly collectorUrl: string;
  readonly config: AnalyticsConfig;
  readonly analytics: AnalyticsService;
  /** A client on the pipeline's Redis (read `sloth:samples` and `sloth:anomalies` under {@link replayPrefix}). */
  readonly client: Redis;
  /** Stops the analytics service, the collector and Redis, and removes the temp dir. */
  stop(): Promise<void>;
}

/**
 * Starts the pipeline; `analyticsFlags` are analytics settings over the defaults (an invalid one is a
 * {@link ToolUsageError}, raised after what was started is stopped again).
 */
export async function startReplayPipeline(options: { dirPrefix: string; analyticsFlags?: Readonly<Record<string, unknown>> }): Promise<ReplayPipeline> {
  const dir = mkdtempSync(join(tmpdir(), options.dirPrefix));
  const redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  const stopRedis = async (): Promise<void> => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  let collector: { url: string; stop: () => void } | undefined;
  try {
    // The wall-clock start-up quiet is off: time here is the samples'.
    const config = loadAnalyticsConfig({ env: {}, flags: { dataDir: join(dir, 'analytics'), redisUrl: redis.url, redisPrefix: replayPrefix, metricsPort: 0, startupQuietMillis: 0, forecastIntervalMillis: 3_600_000, logLevel: 'error', ...options.analyticsFlags } });
    collector = await startCollector(dir, redis.url);
    const analytics = new AnalyticsService(config, { detectorOptions: { useModel: false } });
    await analytics.start();
    return pipeline(collector, config, analytics, new Redis(redis.url), stopRedis);
  } catch (error) {
    collector?.stop();
    await stopRedis();
    throw error instanceof ConfigError ? new ToolUsageError(error.message) : error;
  }
}

function pipeline(collector: { url: string; stop: () => void }, config: AnalyticsConfig, analytics: AnalyticsService, client: Redis, stopRedis: () => Promise<void>): ReplayPipeline {
  return {
    collectorUrl: collector.url,
    config,
    analytics,
    client,
    async stop() {
      client.disconnect();
      await analytics.shutdown();
      collector.stop();
      await sleep(500);
      await stopRedis();
    },
  };
}

async function startCollector(dir: string, redisUrl: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [join(repoRoot, 'cli', 'dist', 'src', 'main.js'), 'collector', '--insecure-no-auth', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--data-dir', join(dir, 'collector'), '--redis-url', redisUrl, '--redis-prefix', replayPrefix, '--log-level', 'error'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  for (let i = 0; i < 1200; i += 1) {
    const match = /OTLP\/HTTP on (\S+)\/v1\//.exec(stdout);
    if (match !== null) return { url: match[1] as string, stop: () => child.kill('SIGTERM') };
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`collector did not start: ${stdout}`);
}

/** Seeded normal noise, so every run replays the same data (run.ts and calibrate.ts draw the same hosts from it). */
export const rng = seededNormalNoise;
