import type { Command } from 'commander';
import { createLogger } from '@sloth/core/logger';
import { redisKeys } from '@sloth/core/redis-keys';
import { reachableRedis, redactUrl } from '@sloth/core/redis-server';
import { maxTokenFileBytes, parseTokenSpec } from '@sloth/core/tokens';
import { addCommonOptions, type CommonFlags, commonConfigFlags, collect, intFlag, numberFlag, privateFiles } from '../options.js';
import { checkInputFile, makeOutputDirectory } from '../input-files.js';
import { out, waitForStopSignal } from '../signals.js';
import { playbookDirectory } from '../shipped-defaults.js';

interface SchedulerFlags extends CommonFlags {
  port?: number;
  metricsPort?: number;
  host?: string;
  playbooks?: string;
  dryRun?: boolean;
  token?: string[];
  tokenFile?: string;
  insecureNoAuth?: boolean;
  cooldown?: number;
  maxConcurrent?: number;
  maxConcurrentPerAgent?: number;
  approvalTimeout?: number;
  resultTimeout?: number;
}

/** `sloth scheduler`: the remediation scheduler role. */
export function registerScheduler(program: Command): void {
  addCommonOptions(
    program
      .command('scheduler')
      .description('match anomalies and events to Lua playbooks and queue remediations on agents (cooldowns, limits, approvals, audit log, HTTP API)'),
  )
    .option('--port <port>', 'HTTP API port (default: 8080)', intFlag('--port'))
    .option('--metrics-port <port>', 'Prometheus /metrics port on the same address, 0 disables; when not given and 9467 is taken, a free port (default: 9467)', intFlag('--metrics-port'))
    .option('--host <host>', 'address to listen on; 0.0.0.0 opens the API to the network (default: 127.0.0.1)')
    .option('--playbooks <dir>', 'directory of *.lua playbooks (default: ./playbooks, or the ones shipped with Sloth when there is none)')
    .option('--dry-run', 'run every playbook in dry-run mode')
    .option('--token <secret[:name]>', 'accepted API bearer token; its name is recorded as the approver; repeatable', collect)
    .option('--token-file <file>', 'API tokens from a file, one SECRET[:name] per line, mode 0600 — keeps them out of ps (env SLOTH_SCHEDULER_TOKEN_FILE)')
    .option('--insecure-no-auth', 'serve the API without a token (local use only)')
    .option('--cooldown <seconds>', 'same playbook on the same agent runs once per window (default: 300)', numberFlag('--cooldown'))
    .option('--max-concurrent <n>', 'remediations queued or running at once (default: 20)', intFlag('--max-concurrent'))
    .option('--max-concurrent-per-agent <n>', 'remediations queued or running at once on one agent (default: 2)', intFlag('--max-concurrent-per-agent'))
    .option('--approval-timeout <seconds>', 'approval requests expire after this long (default: 3600)', numberFlag('--approval-timeout'))
    .option('--result-timeout <seconds>', 'a queued remediation without a result after this long is failed (default: 3600)', numberFlag('--result-timeout'))
    .action(async (flags: SchedulerFlags) => {
      privateFiles();
      // Read whole at the start: a FIFO blocked it for ever (session F).
      if (flags.tokenFile !== undefined) checkInputFile(flags.tokenFile, '--token-file', { maxBytes: maxTokenFileBytes });
      const [{ loadPlaybookDirectory, shutdownPlaybookRuntime }, { loadSchedulerConfig, Scheduler }] = await Promise.all([
        import('@sloth/agent'),
        import('@sloth/scheduler'),
      ]);
      const loaded = loadSchedulerConfig({
        file: flags.config,
        flags: {
          ...commonConfigFlags(flags),
          port: flags.port,
          metricsPort: flags.metricsPort,
          host: flags.host,
          playbooks: flags.playbooks,
          dryRun: flags.dryRun,
          // A bare secret keeps its generated name (token-N); SECRET:name records name as the approver.
          tokens: flags.token?.map((value) => {
            const spec = parseTokenSpec(value);
            return value.includes(':') ? { token: spec.token, name: spec.name } : spec.token;
          }),
          tokenFile: flags.tokenFile,
          insecureNoAuth: flags.insecureNoAuth,
          cooldownSeconds: flags.cooldown,
          maxConcurrent: flags.maxConcurrent,
          maxConcurrentPerAgent: flags.maxConcurrentPerAgent,
          approvalTimeoutSeconds: flags.approvalTimeout,
          resultTimeoutSeconds: flags.resultTimeout,
        },
      });
      const playbooks = playbookDirectory(flags.playbooks, loaded.playbooks);
      const config = { ...loaded, playbooks: playbooks.path };
      // Level by level: Node's recursive mkdir, used by the audit store, loops for ever under /proc (session F).
      makeOutputDirectory(config.dataDir, `cannot use the data dir ${config.dataDir}`, { mode: 0o700 });
      const redisUrl = await reachableRedis(config.redisUrl);
      const logger = createLogger({ name: 'scheduler', level: config.logLevel, destination: 2 });
      const scheduler = new Scheduler({ config, redisUrl, loadPlaybooks: loadPlaybookDirectory, logger, anyMetricsPortIfTaken: flags.metricsPort === undefined });
      await scheduler.start();
      const keys = redisKeys(config.redisPrefix);
      const { host, port } = scheduler.listening;
      const shownHost = host === '0.0.0.0' ? '127.0.0.1' : host;
      out(`sloth scheduler: remediation API on http://${shownHost}:${port}/api/v1/remediations (socket bound to ${host}:${port})`);
      const names = scheduler.loadedPlaybooks.map((p) => `${p.name}@${p.version}${p.requiresApproval ? ' (approval)' : ''}`);
      out(`  playbooks: ${names.length} from ${config.playbooks}${playbooks.fallback ? ' (the ones shipped with Sloth: ./playbooks does not exist here; --playbooks DIR for yours)' : ''}${names.length > 0 ? `: ${names.join(', ')}` : ''}`);
      out(`  triggers: ${keys.anomalies}, ${keys.events} (consumer group ${config.consumerGroup}) on ${redactUrl(redisUrl)}`);
      out(`  jobs: queues agent.<id> under prefix ${keys.queuePrefix}; cooldown ${config.cooldownSeconds} s; max ${config.maxConcurrent} at once, ${config.maxConcurrentPerAgent} per agent`);
      out(`  audit log: ${config.dataDir}/scheduler/remediations.db`);
      out(scheduler.metricsPort === 0 ? '  metrics: disabled' : `  metrics: http://${shownHost}:${scheduler.metricsPort}/metrics`);
      if (config.dryRun) out('  DRY RUN: playbooks report what they would do and change nothing');
      out(config.insecureNoAuth ? '  WARNING: API authentication is OFF (--insecure-no-auth)' : `  auth: ${config.tokens.length} bearer token(s)`);
      const signal = await waitForStopSignal();
      out(`sloth scheduler: ${signal}: draining and stopping`);
      await scheduler.shutdown();
      // The Lua runtime's worker threads (used to load playbooks) would keep the process alive.
      await shutdownPlaybookRuntime();
      out('sloth scheduler: stopped');
      setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
    });
}
