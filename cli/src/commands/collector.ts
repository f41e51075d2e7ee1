import type { Command } from 'commander';
import { limitHeapGrowth } from '@sloth/core/heap';
import { createLogger } from '@sloth/core/logger';
import { defaultRedisUrl, redactUrl } from '@sloth/core/redis-server';
import { maxTokenFileBytes } from '@sloth/core/tokens';
import { addCommonOptions, type CommonFlags, commonConfigFlags, collect, intFlag, numberFlag, privateFiles } from '../options.js';
import { checkInputFile, makeOutputDirectory, maxWholeFileBytes } from '../input-files.js';
import { out, waitForStopSignal } from '../signals.js';

interface CollectorFlags extends CommonFlags {
  port?: number;
  host?: string;
  metricsPort?: number;
  metricsToken?: string;
  metricsTokenFile?: string;
  token?: string[];
  tokenFile?: string;
  adminToken?: string[];
  adminTokenFile?: string;
  maxFutureSkew?: number;
  insecureNoAuth?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  remoteWriteUrl?: string[];
}

/** `sloth collector`: the OTLP/HTTP collector. */
export function registerCollector(program: Command): void {
  addCommonOptions(
    program
      .command('collector')
      .description('receive OTLP/HTTP metrics, traces and logs; store them (SQLite), publish samples to Redis, serve /metrics and the query API'),
  )
    .option('--port <port>', 'OTLP/HTTP and query API port (default: 4318)', intFlag('--port'))
    .option('--host <host>', 'address to listen on; 0.0.0.0 opens it to the network (default: 127.0.0.1)')
    .option('--metrics-port <port>', 'Prometheus /metrics port (default: 9464)', intFlag('--metrics-port'))
    .option('--metrics-token <secret>', 'bearer token Prometheus must send to scrape /metrics (env SLOTH_COLLECTOR_METRICS_TOKEN; default: /metrics is open)')
    .option('--metrics-token-file <file>', 'read the metrics token from a file (mode 0600; env SLOTH_COLLECTOR_METRICS_TOKEN_FILE)')
    .option('--token <secret[:name]>', 'accepted bearer token; with :name it writes only for agent ids matching name (* is a wildcard); repeatable', collect)
    .option('--token-file <file>', 'tokens from a file, one SECRET[:name] per line, mode 0600 — keeps them out of ps (env SLOTH_COLLECTOR_TOKEN_FILE)')
    .option('--admin-token <secret[:name]>', 'token that may write for any agent; repeatable', collect)
    .option('--admin-token-file <file>', 'admin tokens from a file, mode 0600 (env SLOTH_COLLECTOR_ADMIN_TOKEN_FILE)')
    .option('--max-future-skew <seconds>', 'points stamped further ahead of this clock are rejected (default: 600)', numberFlag('--max-future-skew'))
    .option('--insecure-no-auth', 'accept requests without a token (local use only)')
    .option('--tls-cert <file>', 'TLS certificate (PEM); serve HTTPS with --tls-key')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--remote-write-url <url>', 'forward every accepted metric point to this Prometheus remote-write endpoint (VictoriaMetrics, Prometheus, Mimir, Thanos receive); repeatable; headers and queue settings go in the config file (collector.remoteWrite)', collect)
    .action(async (flags: CollectorFlags) => {
      privateFiles();
      // Each command loads its role's package on use, so a role's process holds only its own code.
      // Token, certificate and key files are read whole at the start: a FIFO blocked it for ever (session F).
      const files = [
        [flags.tokenFile, '--token-file', maxTokenFileBytes],
        [flags.adminTokenFile, '--admin-token-file', maxTokenFileBytes],
        [flags.metricsTokenFile, '--metrics-token-file', maxTokenFileBytes],
        [flags.tlsCert, '--tls-cert', maxWholeFileBytes],
        [flags.tlsKey, '--tls-key', maxWholeFileBytes],
      ] as const;
      for (const [path, flag, maxBytes] of files) {
        if (path !== undefined) checkInputFile(path, flag, { maxBytes });
      }
      const { loadCollectorConfig, parseTokenFlag, startCollector } = await import('@sloth/collector');
      const config = loadCollectorConfig({
        file: flags.config,
        flags: {
          ...commonConfigFlags(flags),
          port: flags.port,
          host: flags.host,
          metricsPort: flags.metricsPort,
          metricsToken: flags.metricsToken,
          metricsTokenFile: flags.metricsTokenFile,
          tokens: flags.token?.map(parseTokenFlag),
          tokenFile: flags.tokenFile,
          adminTokens: flags.adminToken?.map(parseTokenFlag),
          adminTokenFile: flags.adminTokenFile,
          maxFutureSkewSeconds: flags.maxFutureSkew,
          insecureNoAuth: flags.insecureNoAuth,
          tlsCert: flags.tlsCert,
          tlsKey: flags.tlsKey,
          remoteWrite: flags.remoteWriteUrl?.map((url) => ({ url })),
        },
      });
      // TLS files named in the config file, not as flags, are read whole by the collector too: a FIFO blocked its start.
      for (const [path, key] of [[config.tlsCert, 'collector.tlsCert'], [config.tlsKey, 'collector.tlsKey']] as const) {
        if (path !== undefined) checkInputFile(path, key, { maxBytes: maxWholeFileBytes });
      }
      // Level by level: Node's recursive mkdir, used by the stores, loops for ever under /proc (session F).
      makeOutputDirectory(config.dataDir, `cannot use the data dir ${config.dataDir}`, { mode: 0o700 });
      // Before the collector allocates: V8 reads the flag each time it sets the next heap limit.
      limitHeapGrowth(config.heapGrowingPercent);
      const redisUrl = config.redisUrl ?? defaultRedisUrl;
      const logger = createLogger({ name: 'collector', level: config.logLevel, destination: 2 });
      const collector = await startCollector({ ...config, redisUrl }, { logger });
      const { otlpUrl, metricsUrl, otlpBound, metricsBound } = collector.urls;
      out(`sloth collector: OTLP/HTTP on ${otlpUrl}/v1/{metrics,traces,logs}; query API on ${otlpUrl}/api/v1/ (socket bound to ${otlpBound})`);
      out(`  Prometheus exposition: ${metricsUrl} (socket bound to ${metricsBound}${config.metricsToken === undefined && config.metricsTokenFile === undefined ? '' : ', bearer token required'})`);
      out(`  data: ${config.dataDir}/collector (SQLite + write-ahead log), retention ${config.retentionDays} days`);
      out(`  samples stream: ${config.redisPrefix}:samples on ${redactUrl(redisUrl)}`);
      out(config.insecureNoAuth ? '  WARNING: authentication is OFF (--insecure-no-auth)' : `  auth: ${collector.tokenCount} bearer token(s)${config.tokenFile === undefined ? '' : ` (some from ${config.tokenFile})`}${config.adminTokenFile === undefined ? '' : ` (some from ${config.adminTokenFile})`}`);
      const signal = await waitForStopSignal();
      out(`sloth collector: ${signal}: draining and stopping`);
      await collector.shutdown();
      out('sloth collector: stopped');
    });
}
