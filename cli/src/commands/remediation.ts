import type { Command } from 'commander';
import { processEnv } from '@sloth/core/config';
import { SlothError } from '@sloth/core/errors';
import { createLogger } from '@sloth/core/logger';
import { reachableRedis, redactUrl } from '@sloth/core/redis-server';
import { readJobSigningKey } from '@sloth/core/job-signing';
import { redactJson, redactText } from '@sloth/core/redact-text';
import { remediationStates } from '@sloth/core/remediation';
import type { RemediationClient, RemediationClientResult, RemediationRecord } from '@sloth/scheduler';
import { readLocalToken } from '../local-token.js';
import { defaultDataDir, defaultSchedulerUrl, localServiceUrl } from '../up-endpoints.js';
import { serviceUrlFlag } from '../urls.js';
import { collect, commandGroup, intFlag, intInRangeFlag, workerThreadsFlag } from '../options.js';
import { out, waitForStopSignal } from '../signals.js';

/** Most remediation jobs one worker runs at once: each holds a BullMQ job lock and waits for a Lua worker thread. */
const maxRemediationConcurrency = 1024;

interface ApiFlags {
  scheduler?: string;
  token?: string;
  dataDir: string;
  json?: boolean;
}

/** Token: --token, else SLOTH_SCHEDULER_TOKEN, else the local token `sloth up` keeps in the data dir. */
async function client(flags: ApiFlags): Promise<RemediationClient> {
  const { RemediationClient } = await import('@sloth/scheduler');
  return new RemediationClient({ baseUrl: localServiceUrl(flags.scheduler, flags.dataDir, 'scheduler', defaultSchedulerUrl), token: flags.token ?? processEnv().SLOTH_SCHEDULER_TOKEN ?? readLocalToken(flags.dataDir) });
}

/**
 * A record as the CLI shows it, secrets masked (params, event, messages, output): the scheduler masks what
 * it stores and serves, but an older one may not.
 */
function masked(r: RemediationRecord): RemediationRecord {
  const text = (value: string | null): string | null => (value === null ? null : redactText(value));
  return {
    ...r,
    params: redactJson(r.params) as Record<string, unknown>,
    trigger: redactJson(r.trigger),
    output: redactJson(r.output),
    message: text(r.message),
    error: text(r.error),
    reason: text(r.reason),
  };
}

function unwrap<T>(result: RemediationClientResult<T>): T {
  if (result.kind === 'ok') return result.value;
  if (result.kind === 'unreachable') throw new SlothError('SLOTH_ERR_UNREACHABLE', `${result.message} (is \`sloth scheduler\` or \`sloth up\` running? pass --scheduler URL, or the --data-dir of a running \`sloth up\`)`);
  const code = result.code === 'SLOTH_ERR_NOT_FOUND' || result.code === 'SLOTH_ERR_CONFLICT' || result.code === 'SLOTH_ERR_AUTH' ? result.code : 'SLOTH_ERR_BAD_REQUEST';
  throw new SlothError(code, result.message);
}

function time(millis: number | null): string {
  return millis === null ? '-' : new Date(millis).toISOString();
}

function printRecord(r: RemediationRecord): void {
  const lines: Array<[string, string]> = [
    ['id', r.id],
    ['state', r.state],
    ['playbook', `${r.playbook}@${r.playbookVersion}${r.dryRun ? ' (dry run)' : ''}`],
    ['agent', r.agentId],
    ['trigger', `${r.triggerKind} ${r.triggerId}`],
    ['triggered', time(r.triggeredAtMillis)],
    ['created', time(r.createdAtMillis)],
    ['queued', time(r.queuedAtMillis)],
    ['started', time(r.startedAtMillis)],
    ['finished', time(r.finishedAtMillis)],
    ['duration', r.durationMillis === null ? '-' : `${r.durationMillis} ms`],
    ['attempts', String(r.attempts)],
  ];
  if (r.expiresAtMillis !== null && r.state === 'pending_approval') lines.push(['expires', time(r.expiresAtMillis)]);
  if (r.approvedBy !== null) lines.push(['approved by', `${r.approvedBy} at ${time(r.approvedAtMillis)}`]);
  if (r.rejectedBy !== null) lines.push(['rejected by', r.rejectedBy]);
  if (r.reason !== null) lines.push(['reason', r.reason]);
  if (r.ok !== null) lines.push(['result', `${r.ok ? 'ok' : 'not ok'}: ${r.message ?? ''}`]);
  if (r.error !== null) lines.push(['error', r.error]);
  lines.push(['params', JSON.stringify(r.params)]);
  lines.push(['event', JSON.stringify(r.trigger)]);
  const width = Math.max(...lines.map(([k]) => k.length));
  for (const [key, value] of lines) process.stdout.write(`${key.padEnd(width)}  ${value}\n`);
  const logs = (r.output as { logs?: Array<{ level?: string; message?: string }> } | null)?.logs ?? [];
  if (logs.length > 0) {
    process.stdout.write('logs:\n');
    for (const log of logs) process.stdout.write(`  [${log.level ?? 'info'}] ${log.message ?? ''}\n`);
  }
}

function apiOptions(command: Command): Command {
  return command
    .option('--scheduler <url>', 'scheduler API base URL (default: the running `sloth up`\'s, else http://127.0.0.1:8080)', serviceUrlFlag('--scheduler'))
    .option('--token <secret>', 'API bearer token (default: env SLOTH_SCHEDULER_TOKEN, else the token `sloth up` keeps in --data-dir)')
    .option('--data-dir <dir>', 'data dir of a local `sloth up` (for its token)', defaultDataDir())
    .option('--json', 'print JSON');
}

interface WorkerFlags {
  agentId: string;
  redisUrl?: string;
  redisPrefix?: string;
  stateDir?: string;
  concurrency?: number;
  luaWorkers?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  allowExec?: string[];
  allowHttp?: string[];
  allowFs?: string[];
  collector?: string;
  token?: string;
  jobSigningKeyFile?: string;
  logLevel?: string;
}

/** `sloth remediation list | show | approve | reject | worker`. */
export function registerRemediation(program: Command): void {
  const group = commandGroup(program, 'remediation', 'inspect, approve and reject remediations (talks to the scheduler API)');

  apiOptions(group.command('list').description('list remediations, newest first'))
    .option('--state <state>', `only this state (${remediationStates.join(', ')})`)
    .option('--agent <id>', 'only this agent')
    .option('--playbook <name>', 'only this playbook')
    .option('--limit <n>', 'at most this many (default: 100)', intFlag('--limit'))
    .action(async (flags: ApiFlags & { state?: string; agent?: string; playbook?: string; limit?: number }) => {
      const records = unwrap(await (await client(flags)).list({ state: flags.state, agent: flags.agent, playbook: flags.playbook, limit: flags.limit })).map(masked);
      if (flags.json === true) {
        process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
        return;
      }
      if (records.length === 0) {
        process.stdout.write('no remediations\n');
        return;
      }
      const rows = records.map((r) => [r.id, r.state, `${r.playbook}@${r.playbookVersion}`, r.agentId, time(r.createdAtMillis), r.message ?? r.reason ?? '']);
      const header = ['ID', 'STATE', 'PLAYBOOK', 'AGENT', 'CREATED', 'RESULT'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
      for (const row of [header, ...rows]) process.stdout.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')}\n`);
    });

  apiOptions(group.command('show').description('show one remediation: trigger, target, playbook, approvals, result, logs').argument('<id>'))
    .action(async (id: string, flags: ApiFlags) => {
      const record = masked(unwrap(await (await client(flags)).show(id)));
      if (flags.json === true) process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
      else printRecord(record);
    });

  apiOptions(group.command('approve').description('approve a remediation waiting for approval').argument('<id>'))
    .option('--by <name>', 'who approves (recorded in the audit log; default: the token name)')
    .action(async (id: string, flags: ApiFlags & { by?: string }) => {
      const record = masked(unwrap(await (await client(flags)).approve(id, flags.by)));
      if (flags.json === true) process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
      else process.stdout.write(`approved ${record.id} (${record.playbook} on ${record.agentId}) by ${record.approvedBy ?? '?'}: now ${record.state}\n`);
    });

  apiOptions(group.command('reject').description('reject a remediation waiting for approval').argument('<id>'))
    .option('--by <name>', 'who rejects (default: the token name)')
    .option('--reason <text>', 'why (recorded in the audit log)')
    .action(async (id: string, flags: ApiFlags & { by?: string; reason?: string }) => {
      const record = masked(unwrap(await (await client(flags)).reject(id, flags.by, flags.reason)));
      if (flags.json === true) process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
      else process.stdout.write(`rejected ${record.id} (${record.playbook} on ${record.agentId})${record.reason === null ? '' : `: ${record.reason}`}\n`);
    });

  group
    .command('worker')
    .description("run only an agent's remediation job worker (BullMQ queue agent.<id>) with the Lua runtime (`sloth up` runs it for its local agent)")
    .requiredOption('--agent-id <id>', 'the agent whose queue to serve')
    .option('--redis-url <url>', 'Redis (env REDIS_URL; default redis://127.0.0.1:6379)')
    .option('--redis-prefix <prefix>', 'Redis key prefix (default: sloth)', 'sloth')
    .option('--state-dir <dir>', 'where playbook state is kept (default: ./.sloth/agent/state)', './.sloth/agent/state')
    .option('--concurrency <n>', `jobs at once, 1 to ${maxRemediationConcurrency} (default: 4)`, intInRangeFlag('--concurrency', 1, maxRemediationConcurrency))
    .option('--lua-workers <n>', 'Lua worker threads, 1 to twice the cores (default: min(2, cores))', workerThreadsFlag('--lua-workers'))
    .option('--lock-duration-ms <ms>', 'job lock lifetime; a dead worker loses its jobs after this (default: 30000)', intFlag('--lock-duration-ms'))
    .option('--stalled-interval-ms <ms>', 'how often stalled jobs are looked for (default: 15000)', intFlag('--stalled-interval-ms'))
    .option('--allow-exec <command>', 'command playbooks may run; repeatable', collect)
    .option('--allow-http <host>', 'host playbooks may call; repeatable', collect)
    .option('--allow-fs <dir>', 'directory playbooks may change; repeatable', collect)
    .option('--collector <url>', 'send playbook spans, log records and metrics to this collector (OTLP/HTTP)', serviceUrlFlag('--collector'))
    .option('--token <secret>', 'bearer token for --collector')
    .option('--job-signing-key-file <file>', "run only jobs signed with this key (mode 0600), the scheduler's jobSigningKeyFile (env SLOTH_JOB_SIGNING_KEY_FILE)")
    .option('--log-level <level>', 'log level (default: info)')
    .action(async (flags: WorkerFlags) => {
      const redisUrl = await reachableRedis(flags.redisUrl ?? processEnv().REDIS_URL);
      const logger = createLogger({ name: 'remediation-worker', level: flags.logLevel ?? 'info', destination: 2 });
      const { shutdownPlaybookRuntime, startRemediationWorker } = await import('@sloth/agent');
      const keyFile = flags.jobSigningKeyFile ?? processEnv().SLOTH_JOB_SIGNING_KEY_FILE;
      const signingKey = keyFile === undefined || keyFile === '' ? undefined : readJobSigningKey(keyFile);
      const worker = await startRemediationWorker({
        signingKey,
        agentId: flags.agentId,
        redisUrl,
        prefix: flags.redisPrefix ?? 'sloth',
        stateDir: flags.stateDir ?? './.sloth/agent/state',
        exec: { allow: flags.allowExec ?? [] },
        http: { allowHosts: flags.allowHttp ?? [] },
        fs: { allowRoots: flags.allowFs ?? [] },
        collector: flags.collector === undefined ? undefined : { url: flags.collector, token: flags.token },
        logger,
        concurrency: flags.concurrency,
        luaWorkers: flags.luaWorkers,
        lockDurationMillis: flags.lockDurationMs,
        stalledIntervalMillis: flags.stalledIntervalMs,
      });
      out(`sloth remediation worker: serving queue ${worker.queueName} (prefix ${flags.redisPrefix ?? 'sloth'}) on ${redactUrl(redisUrl)}`);
      if (flags.collector !== undefined) out(`  telemetry (playbook spans, logs, metrics) → ${flags.collector}`);
      await waitForStopSignal();
      out('sloth remediation worker: stopping (waiting for running playbooks)');
      await worker.shutdown();
      await shutdownPlaybookRuntime();
      out('sloth remediation worker: stopped');
      // With Redis gone, BullMQ's own reconnecting clients would keep the process alive.
      setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
    });
}
