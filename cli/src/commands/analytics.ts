import type { Command } from 'commander';
import { createLogger } from '@sloth/core/logger';
import { reachableRedis, redactUrl } from '@sloth/core/redis-server';
import { addCommonOptions, type CommonFlags, commonConfigFlags, intFlag } from '../options.js';
import { makeOutputDirectory } from '../input-files.js';
import { serviceUrlFlag } from '../urls.js';
import { out, waitForStopSignal } from '../signals.js';

interface AnalyticsFlags extends CommonFlags {
  metricsPort?: number;
  group?: string;
  consumer?: string;
  shards?: number;
  collector?: string;
  token?: string;
}

/** `sloth analytics`: the anomaly-detection and forecasting service. */
export function registerAnalytics(program: Command): void {
  addCommonOptions(
    program
      .command('analytics')
      .description('score every sample on the Redis stream sloth:samples, publish anomalies and forecasts, train models (consumer group; run several to share the load)'),
  )
    .option('--metrics-port <port>', 'Prometheus /metrics port, 0 disables it (default: 9466)', intFlag('--metrics-port'))
    .option('--group <name>', 'consumer group on the samples stream (default: analytics)')
    .option('--consumer <name>', 'consumer name, unique per process (default: <hostname>-<pid>)')
    .option('--shards <n>', 'route series to N shards, each read by one process of the group (default: 1, any process scores any series)', intFlag('--shards'))
    .option('--collector <url>', "collector whose query API warms up new series with their history, e.g. http://127.0.0.1:4318", serviceUrlFlag('--collector'))
    .option('--token <secret>', "bearer token for the collector's query API")
    .action(async (flags: AnalyticsFlags) => {
      // Loaded on use: TensorFlow.js is heavy and other commands don't need it.
      const { AnalyticsService, loadAnalyticsConfig } = await import('@sloth/analytics');
      const config = loadAnalyticsConfig({
        file: flags.config,
        flags: {
          ...commonConfigFlags(flags),
          metricsPort: flags.metricsPort,
          group: flags.group,
          consumer: flags.consumer,
          shards: flags.shards,
          collectorUrl: flags.collector,
          token: flags.token,
        },
      });
      // Level by level: Node's recursive mkdir, used by the model registry, loops for ever under /proc (session F).
      makeOutputDirectory(config.dataDir, `cannot use the data dir ${config.dataDir}`, { mode: 0o700 });
      const redisUrl = await reachableRedis(config.redisUrl);
      const logger = createLogger({ name: 'analytics', level: config.logLevel, destination: 2 });
      const service = new AnalyticsService({ ...config, redisUrl }, { logger });
      await service.start();
      out(`sloth analytics: consuming ${service.keys.samples} on ${redactUrl(redisUrl)} as group "${config.group}", consumer "${service.consumer}"`);
      if (config.shards > 1) out(`  sharded by series: ${config.shards} shards (consumer groups "${config.group}.s<k>"), holding ${service.heldShards.join(', ') || 'none yet'}`);
      out(`  anomalies -> ${service.keys.anomalies} (score >= ${config.anomalyThreshold}), forecasts -> ${service.keys.forecasts} (every ${config.forecastIntervalMillis / 1000} s per series, ${config.forecastHorizonSteps} steps)`);
      out(`  model registry: ${service.registryPath}; training on the BullMQ queue "training" with ${config.trainingThreads} worker thread(s)`);
      if (config.collectorUrl !== undefined) out(`  new series are warmed up with ${config.coldStartMillis / 3_600_000} h of history from ${redactUrl(config.collectorUrl)}`);
      out(service.metricsPort === 0 ? '  metrics: disabled' : `  metrics: http://${config.metricsHost}:${service.metricsPort}/metrics`);
      const signal = await waitForStopSignal();
      out(`sloth analytics: ${signal}: saving detector snapshots and stopping`);
      await service.shutdown();
      out('sloth analytics: stopped');
    });
}
