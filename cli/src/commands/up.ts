import type { Command } from 'commander';
import { limitHeapGrowth } from '@sloth/core/heap';
import { addCommonOptions, collect, intFlag, numberFlag, positiveNumberFlag, privateFiles } from '../options.js';
import { out, waitForStopSignal } from '../signals.js';
import type { UpFlags } from '../up.js';

interface UpCommandFlags extends Omit<UpFlags, 'token' | 'stopTimeoutSeconds'> {
  token?: string[];
  stopTimeout?: number;
}

/** `sloth up`: every role in one process. */
export function registerUp(program: Command): void {
  addCommonOptions(
    program
      .command('up')
      .description('run the whole stack in one process: Redis (found or started), collector, a local agent, analytics and the scheduler')
      .addHelpText(
        'after',
        '\nRedis: --redis-url / REDIS_URL as given, else redis://127.0.0.1:6379 only if it demands the password in\n' +
          '<data-dir>/redis/sloth-redis.password and carries the sloth:marker key, else redis-server from PATH with\n' +
          'that password (made once, 0600) and AOF under <data-dir>/redis (0700).\n' +
          'An admin token is generated into <data-dir>/up-token (0600) for the local agent, sloth status and\n' +
          'sloth remediation; --token SECRET:agent adds agent tokens (see docs/security.md).',
      ),
  )
    .option('--token <secret[:name]>', 'accepted bearer token; with :name it writes only for agent ids matching name, bare ones also reach the scheduler API; repeatable', collect)
    .option('--insecure-no-auth', 'accept requests without a token (local use only)')
    .option('--host <host>', 'address every role listens on; 0.0.0.0 opens them to the network (default: 127.0.0.1)')
    .option('--collector-port <port>', 'OTLP/HTTP and query API port (default: 4318)', intFlag('--collector-port'))
    .option('--metrics-port <port>', "collector's Prometheus port (default: 9464)", intFlag('--metrics-port'))
    .option('--scheduler-port <port>', 'scheduler API port (default: 8080)', intFlag('--scheduler-port'))
    .option('--agent-metrics-port <port>', "local agent's Prometheus port, 0 disables (default: 9465)", intFlag('--agent-metrics-port'))
    .option('--analytics-metrics-port <port>', "analytics' Prometheus port, 0 disables (default: 9466)", intFlag('--analytics-metrics-port'))
    .option('--scheduler-metrics-port <port>', "scheduler's Prometheus port, 0 disables; when not given and 9467 is taken, a free port (default: 9467)", intFlag('--scheduler-metrics-port'))
    .option('--alerts-port <port>', 'alerts API and Alertmanager intake port; when not given and 8081 is taken, a free port (default: 8081)', intFlag('--alerts-port'))
    .option('--alerts-metrics-port <port>', "alerts' Prometheus port, 0 disables; when not given and 9468 is taken, a free port (default: 9468)", intFlag('--alerts-metrics-port'))
    .option('--playbooks <dir>', 'directory of *.lua playbooks (default: ./playbooks, or the ones shipped with Sloth when there is none)')
    .option('--interval <seconds>', 'local agent collection interval (default: 10)', numberFlag('--interval'))
    .option('--no-agent', 'do not run the local agent')
    .option('--dry-run', 'run every remediation playbook in dry-run mode')
    .option('--allow-exec <command>', "command the local agent's playbooks may run (e.g. ps for report-top-memory); repeatable (default: none)", collect)
    .option('--allow-http <host>', "host the local agent's playbooks may call; repeatable (default: none)", collect)
    .option('--allow-fs <dir>', "directory the local agent's playbooks may change; repeatable (default: none)", collect)
    .option('--allow-task-exec <command>', 'command tasks may run (sloth task submit -- CMD ARGS; with any arguments, by any API token holder); repeatable (default: none). Not implied by --allow-exec', collect)
    .option('--stop-timeout <seconds>', 'on Ctrl-C, the longest wait for each role to stop before going on to the next (default: 15)', positiveNumberFlag('--stop-timeout'))
    .action(async (flags: UpCommandFlags) => {
      privateFiles();
      limitHeapGrowth();
      // Loaded on use: `sloth up` pulls in every service (TensorFlow.js included).
      const [{ AllInOne }, { parseTokenFlag }] = await Promise.all([import('../up.js'), import('@sloth/collector')]);
      const stack = new AllInOne();
      const { stopTimeout, ...upFlags } = flags;
      await stack.start({ ...upFlags, stopTimeoutSeconds: stopTimeout, token: flags.token?.map(parseTokenFlag) });
      out('sloth up: running');
      for (const line of stack.summary) out(`  ${line}`);
      out('Ctrl-C stops everything and flushes what was acknowledged.');
      const signal = await waitForStopSignal();
      out(`sloth up: ${signal}: stopping (Ctrl-C again exits at once)`);
      const exitNow = (): void => {
        out('sloth up: second signal: exiting without waiting for the roles to stop');
        process.exit(130);
      };
      process.once('SIGINT', exitNow);
      process.once('SIGTERM', exitNow);
      const unclean = await stack.shutdown();
      if (unclean.length > 0) {
        // A role left behind may hold connections that retry for ever: exit rather than linger.
        out(`sloth up: stopped; not cleanly: ${unclean.join(', ')}`);
        process.exit(1);
      }
      out('sloth up: stopped');
    });
}
