import type { Command } from 'commander';
import { createLogger, redactUrl, limitHeapGrowth } from '@sloth/core';
import { addCommonOptions, type CommonFlags, commonConfigFlags, collect, intFlag } from '../options.js';
import { out, waitForStopSignal } from '../signals.js';

interface CollectorFlags extends CommonFlags {
  port?: number;
  host?: string;
  metricsPort?: number;
  metricsToken?: string;
  token?: string[];
  insecureNoAuth?: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

/** `sloth collector`: the OTLP/HTTP collector. */
export function registerCollector(program: Command): void {
  addCommonOptions(
    program
      .command('collector')
      .description('receive OTLP/HTTP metrics, traces and logs; store them (SQLite), publish samples to Redis, serve /metrics and the query API'),
  )
    .option('--port <port>', 'OTLP/HTTP and query API port (default: 4318)', intFlag('--port'))
    .option('--host <host>', 'address to listen on (default: 0.0.0.0)')
    .option('--metrics-port <port>', 'Prometheus /metrics port (default: 9464)', intFlag('--metrics-port'))
    .option('--metrics-token <secret>', 'bearer token Prometheus must send to scrape /metrics (env SLOTH_COLLECTOR_METRICS_TOKEN; default: /metrics is open)')
    .option('--token <secret[:name]>', 'accepted bearer token, optionally naming its agent/tenant; repeatable', collect)
    .option('--insecure-no-auth', 'accept requests without a token (local use only)')
    .option('--tls-cert <file>', 'TLS certificate (PEM); serve HTTPS with --tls-key')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .action(async (flags: CollectorFlags) => {
      limitHeapGrowth();
      // Each command loads its role's package on use, so a role's process holds only its own code.
      const { loadCollectorConfig, parseTokenFlag, startCollector } = await import('@sloth/collector');
      const config = loadCollectorConfig({
        file: flags.config,
        flags: {
          ...commonConfigFlags(flags),
          port: flags.port,
          host: flags.host,
          metricsPort: flags.metricsPort,
          metricsToken: flags.metricsToken,
          tokens: flags.token?.map(parseTokenFlag),
          insecureNoAuth: flags.insecureNoAuth,
          tlsCert: flags.tlsCert,
          tlsKey: flags.tlsKey,
        },
      });
      const redisUrl = config.redisUrl ?? 'redis://127.0.0.1:6379';
      const logger = createLogger({ name: 'collector', level: config.logLevel, destination: 2 });
      const collector = await startCollector({ ...config, redisUrl }, { logger });
      const { otlpUrl, metricsUrl } = collector.urls;
      out(`sloth collector: OTLP/HTTP on ${otlpUrl}/v1/{metrics,traces,logs}; query API on ${otlpUrl}/api/v1/`);
      out(`  Prometheus exposition: ${metricsUrl}${config.metricsToken === undefined ? '' : ' (bearer token required)'}`);
      out(`  data: ${config.dataDir}/collector (SQLite + write-ahead log), retention ${config.retentionDays} days`);
      out(`  samples stream: ${config.redisPrefix}:samples on ${redactUrl(redisUrl)}`);
      out(config.insecureNoAuth ? '  WARNING: authentication is OFF (--insecure-no-auth)' : `  auth: ${config.tokens.length} bearer token(s)`);
      const signal = await waitForStopSignal();
      out(`sloth collector: ${signal}: draining and stopping`);
      await collector.shutdown();
      out('sloth collector: stopped');
    });
}
