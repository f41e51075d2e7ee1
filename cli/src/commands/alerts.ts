import { existsSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { processEnv } from '@sloth/core/config';
import { ConfigError, SlothError, type ConfigProblem } from '@sloth/core/errors';
import { createLogger } from '@sloth/core/logger';
import { reachableRedis, redactUrl } from '@sloth/core/redis-server';
import { parseTokenSpec, readTokenFile } from '@sloth/core/tokens';
import { checkInputFile, checkOutputFile, maxWholeFileBytes, unreadableFileProblem } from '../input-files.js';
import { readLocalToken } from '../local-token.js';
import { defaultAlertsUrl, defaultDataDir, localServiceUrl } from '../up-endpoints.js';
import { alertsRulesFile, alertsRulesNamed } from '../shipped-defaults.js';
import { serviceUrlFlag, shownUrl } from '../urls.js';
import { addCommonOptions, collect, commonConfigFlags, intFlag, type CommonFlags } from '../options.js';
import { out, waitForStopSignal } from '../signals.js';

interface RoleFlags extends CommonFlags {
  port?: number;
  metricsPort?: number;
  host?: string;
  token?: string[];
  tokenFile?: string;
  insecureNoAuth?: boolean;
  rules?: string;
  collector?: string;
  collectorToken?: string;
  collectorTokenFile?: string;
}

interface ApiFlags {
  alerts?: string;
  token?: string;
  tokenFile?: string;
  dataDir: string;
  json?: boolean;
}

/** Calls the alerts API; errors come back as the server's `{ code, message }`, with what to do when it is not running. */
async function api<T>(flags: ApiFlags, method: string, path: string, body?: unknown): Promise<T> {
  const env = processEnv();
  const tokenFile = flags.tokenFile ?? (flags.token === undefined && env.SLOTH_ALERTS_TOKEN === undefined ? env.SLOTH_ALERTS_TOKEN_FILE : undefined);
  // A token file (the role's own, too) holds SECRET[:name] lines: the client sends the first secret.
  const token = flags.token ?? (tokenFile === undefined ? undefined : readTokenFile(tokenFile)[0]?.token) ?? env.SLOTH_ALERTS_TOKEN ?? readLocalToken(flags.dataDir);
  const alerts = localServiceUrl(flags.alerts, flags.dataDir, 'alerts', defaultAlertsUrl);
  let response: Response;
  try {
    response = await fetch(new URL(path, alerts), {
      method,
      headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new SlothError('SLOTH_ERR_UNREACHABLE', `the alerts API at ${shownUrl(alerts)} did not answer (${(error as Error).message}); is \`sloth alerts\` or \`sloth up\` running? pass --alerts URL, or the --data-dir of a running \`sloth up\``);
  }
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    const value: unknown = text === '' ? {} : JSON.parse(text);
    if (value !== null && typeof value === 'object') parsed = value as Record<string, unknown>;
  } catch {
    // Something else answers there (a proxy's HTML page, another service): say so instead of a JSON parser's stack.
    throw new SlothError('SLOTH_ERR_BAD_REQUEST', `${shownUrl(new URL(path, alerts).href)} answered HTTP ${response.status} with a body that is not JSON; is --alerts ${shownUrl(alerts)} the alerts API?`);
  }
  if (!response.ok) {
    const code = typeof parsed.code === 'string' && parsed.code in { SLOTH_ERR_AUTH: 1, SLOTH_ERR_NOT_FOUND: 1, SLOTH_ERR_INPUT: 1 } ? (parsed.code as 'SLOTH_ERR_AUTH') : 'SLOTH_ERR_BAD_REQUEST';
    throw new SlothError(code, typeof parsed.message === 'string' ? parsed.message : `HTTP ${response.status}`);
  }
  return parsed as T;
}

/**
 * This command's options merged with its ancestors': `sloth alerts` has its own `--token`,
 * `--data-dir` and `--rules`, and commander gives such flags to the parent even when they follow
 * the sub-command. A flag typed on the command line wins, then the ancestors', then the default.
 */
function resolved<T>(command: Command): T {
  const local = command.opts();
  const merged: Record<string, unknown> = { ...local };
  for (const name of Object.keys(local).concat(command.options.map((o) => o.attributeName()))) {
    if (command.getOptionValueSource(name) === 'cli') continue;
    for (let parent = command.parent; parent !== null; parent = parent.parent) {
      const value: unknown = parent.opts()[name];
      if (value === undefined) continue;
      // The role's --token collects SECRET[:name]; a client sends the secret.
      merged[name] = Array.isArray(value) ? String(value.at(-1)).split(':')[0] : value;
      break;
    }
  }
  return merged as T;
}

function apiOptions(command: Command): Command {
  return command
    .option('--alerts <url>', 'alerts API base URL (default: the running `sloth up`\'s, else http://127.0.0.1:8081)', serviceUrlFlag('--alerts'))
    .option('--token <secret>', 'API bearer token; visible to every user in ps, prefer --token-file (default: env SLOTH_ALERTS_TOKEN, else the token `sloth up` keeps in --data-dir)')
    .option('--token-file <file>', 'API bearer token from a file (mode 0600; the first SECRET of a SECRET[:name] token file; env SLOTH_ALERTS_TOKEN_FILE)')
    .option('--data-dir <dir>', 'data dir of a local `sloth up` (for its token)', defaultDataDir())
    .option('--json', 'print JSON');
}

function time(millis: number | undefined | null): string {
  return millis === undefined || millis === null ? '-' : new Date(millis).toISOString().replace('.000Z', 'Z');
}

function table(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const row of rows) out(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '));
}

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels).filter(([k]) => k !== 'alertname').map(([k, v]) => `${k}=${v}`).join(',');
}

function parseAt(text: string | undefined): number {
  if (text === undefined) return Date.now();
  const millis = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (Number.isNaN(millis)) throw new SlothError('SLOTH_ERR_BAD_REQUEST', `--at ${JSON.stringify(text)} is not a time: use ISO 8601 (2026-01-05T22:30:00Z) or Unix milliseconds`);
  return millis;
}

/** An alerts file a sub-command reads whole: a FIFO would block for ever (a missing one is the loader's error). */
function checkRulesFile(path: string): void {
  if (existsSync(path)) checkInputFile(path, '--rules', { maxBytes: maxWholeFileBytes });
}

/** `sloth alerts`: the alerting role, and the commands that talk to it. */
export function registerAlerts(program: Command): void {
  const group = addCommonOptions(
    program
      .command('alerts')
      .description('the alerting role: rules over anomalies, forecasts, thresholds and absence; Alertmanager-style routing to Slack, signed webhooks and playbooks')
      .addHelpText('after', '\nWithout a sub-command it runs the role (API and Alertmanager intake on --port, default 8081).\nRules, routes and receivers live in the alerts file (--rules, default ./alerts.yaml), reloaded on change; see docs/alerts.md.'),
  )
    .option('--port <port>', 'API and intake port (default: 8081)', intFlag('--port'))
    .option('--metrics-port <port>', 'Prometheus /metrics port on the same address, 0 disables; when not given and 9468 is taken, a free port (default: 9468)', intFlag('--metrics-port'))
    .option('--host <host>', 'address to listen on; 0.0.0.0 opens the API to the network (default: 127.0.0.1)')
    .option('--token <secret[:name]>', 'accepted API bearer token; its name is recorded as the author of silences; repeatable (visible to every user in ps: prefer --token-file)', collect)
    .option('--token-file <file>', 'API tokens from a file, one SECRET[:name] per line, mode 0600 — keeps them out of ps (env SLOTH_ALERTS_TOKEN_FILE)')
    .option('--insecure-no-auth', 'serve the API without a token (local use only)')
    .option('--rules <file>', 'the alerts file (default: ./alerts.yaml, or the one shipped with Sloth when there is none)')
    .option('--collector <url>', 'collector whose query API threshold and absence rules read (default: http://127.0.0.1:4318)', serviceUrlFlag('--collector'))
    .option('--collector-token <secret>', 'token for the collector query API (env SLOTH_ALERTS_COLLECTOR_TOKEN; visible to every user in ps: prefer --collector-token-file)')
    .option('--collector-token-file <file>', 'the collector token from a file, mode 0600 — keeps it out of ps (env SLOTH_ALERTS_COLLECTOR_TOKEN_FILE)')
    .action(async (flags: RoleFlags) => {
      const { AlertsService, loadAlertsConfig, loadAlertsFile, missingRulesFileProblem } = await import('@sloth/alerts');
      // Flags, configuration and the alerts file are all checked, and reported together, before Redis (session F, F3).
      const problems: ConfigProblem[] = [];
      let config: ReturnType<typeof loadAlertsConfig> | undefined;
      try {
        config = loadAlertsConfig({
          file: flags.config,
          flags: {
            ...commonConfigFlags(flags),
            port: flags.port,
            metricsPort: flags.metricsPort,
            host: flags.host,
            tokens: flags.token?.map((value) => {
              const spec = parseTokenSpec(value);
              return { token: spec.token, name: spec.name };
            }),
            tokenFile: flags.tokenFile,
            insecureNoAuth: flags.insecureNoAuth,
            rules: flags.rules,
            collectorUrl: flags.collector,
            collectorToken: flags.collectorToken,
            collectorTokenFile: flags.collectorTokenFile,
          },
        });
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        problems.push(...error.problems);
      }
      // Whether a file was named is decided before the shipped fallback replaces the default path.
      const rulesNamed = alertsRulesNamed(flags.rules, config?.rules);
      // Nobody named an alerts file and there is no ./alerts.yaml here: the rules shipped with Sloth.
      const chosenRules = config === undefined ? undefined : alertsRulesFile(flags.rules, config.rules);
      if (config !== undefined && chosenRules !== undefined) config = { ...config, rules: chosenRules.path };
      // The service reads the file at its start (a missing one it was not told of means no rules); with a bad
      // configuration, the --rules given.
      const rules = config?.rules ?? flags.rules;
      if (rules !== undefined && rulesNamed && !existsSync(rules)) problems.push(missingRulesFileProblem(rules));
      if (rules !== undefined && existsSync(rules)) {
        const unreadable = unreadableFileProblem(rules, 'alerts.rules', 'the alerts file');
        if (unreadable !== undefined) problems.push(unreadable);
        else {
          try {
            loadAlertsFile(rules);
          } catch (error) {
            if (!(error instanceof ConfigError)) throw error;
            problems.push(...error.problems);
          }
        }
      }
      if (problems.length > 0 || config === undefined) throw new ConfigError(problems);
      const redisUrl = await reachableRedis(config.redisUrl);
      const logger = createLogger({ name: 'alerts', level: config.logLevel, destination: 2 });
      const service = new AlertsService({ config, redisUrl, logger, anyMetricsPortIfTaken: flags.metricsPort === undefined, rulesFileOptional: !rulesNamed });
      await service.start();
      out(`sloth alerts: API and Alertmanager intake on ${service.listening?.url ?? '?'}/api/v1/ (intake: /api/v1/intake/alertmanager)`);
      out(`  rules: ${service.engine?.alertsFile.rules.length ?? 0} from ${config.rules}${chosenRules?.fallback === true ? ' (the ones shipped with Sloth: ./alerts.yaml does not exist here; --rules FILE for yours)' : ''} (reloaded on change); Redis ${redactUrl(redisUrl)} prefix ${config.redisPrefix}`);
      out(service.metricsPort === 0 ? '  metrics: disabled' : `  metrics: http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${service.metricsPort}/metrics`);
      out(config.insecureNoAuth ? '  WARNING: API authentication is OFF (--insecure-no-auth)' : `  auth: ${config.tokens.length} bearer token(s)${config.tokenFile === undefined ? '' : ` (some from ${config.tokenFile})`}`);
      const signal = await waitForStopSignal();
      out(`sloth alerts: ${signal}: finishing deliveries and stopping`);
      await service.shutdown();
      out('sloth alerts: stopped');
    });

  apiOptions(group.command('list').description('list pending, firing and recently resolved alerts, with silences and inhibitions'))
    .option('--state <state>', 'only pending, firing or resolved')
    .action(async (_: unknown, command: Command) => {
      const flags = resolved<ApiFlags & { state?: string }>(command);
      const { alerts } = await api<{ alerts: Array<{ labels: Record<string, string>; state: string; silencedBy?: string; inhibitedBy?: string; flapping: boolean; startsAtMillis: number; value?: number }> }>(flags, 'GET', '/api/v1/alerts');
      const shown = alerts.filter((a) => flags.state === undefined || a.state === flags.state);
      if (flags.json === true) return out(JSON.stringify({ alerts: shown }, null, 2));
      const rows = [['ALERT', 'STATE', 'SINCE', 'VALUE', 'MUTED', 'LABELS']];
      for (const a of shown) {
        const muted = a.silencedBy !== undefined && a.silencedBy !== null ? `silence ${a.silencedBy.slice(0, 8)}` : a.inhibitedBy ?? '-';
        rows.push([a.labels.alertname ?? '?', `${a.state}${a.flapping ? ' (flapping)' : ''}`, time(a.startsAtMillis), a.value === undefined || a.value === null ? '-' : String(a.value), muted, labelText(a.labels)]);
      }
      table(rows);
      out(`\n${shown.length} alert(s)`);
    });

  apiOptions(group.command('silence').description('silence alerts matching every matcher (name="value", name!="v", name=~"re", name!~"re"); --list shows silences').argument('[matchers...]'))
    .option('--duration <duration>', 'how long (e.g. 2h, 30m)', '1h')
    .option('--end <time>', 'end time (ISO 8601) instead of --duration')
    .option('--comment <text>', 'why (required); the author is the token\'s name')
    .option('--list', 'list silences instead')
    .action(async (matchers: string[], _: unknown, command: Command) => {
      const flags = resolved<ApiFlags & { duration: string; end?: string; comment?: string; list?: boolean }>(command);
      if (flags.list === true || matchers.length === 0) {
        const { silences } = await api<{ silences: Array<{ id: string; matchers: string[]; state: string; endsAtMillis: number; createdBy: string; comment: string }> }>(flags, 'GET', '/api/v1/silences');
        if (flags.json === true) return out(JSON.stringify({ silences }, null, 2));
        table([['ID', 'STATE', 'ENDS', 'BY', 'MATCHERS', 'COMMENT'], ...silences.map((s) => [s.id, s.state, time(s.endsAtMillis), s.createdBy, s.matchers.join(','), s.comment])]);
        return undefined;
      }
      if (flags.comment === undefined || flags.comment.trim() === '') throw new SlothError('SLOTH_ERR_BAD_REQUEST', 'a silence needs --comment saying why');
      const { silence } = await api<{ silence: { id: string; endsAtMillis: number; createdBy: string } }>(flags, 'POST', '/api/v1/silences', { matchers, comment: flags.comment, ...(flags.end === undefined ? { duration: flags.duration } : { endsAt: flags.end }) });
      if (flags.json === true) return out(JSON.stringify({ silence }, null, 2));
      out(`silence ${silence.id} by ${silence.createdBy} until ${time(silence.endsAtMillis)}`);
      return undefined;
    });

  apiOptions(group.command('unsilence').description('end a silence now').argument('<id>')).action(async (id: string, _: unknown, command: Command) => {
    const flags = resolved<ApiFlags>(command);
    await api(flags, 'DELETE', `/api/v1/silences/${encodeURIComponent(id)}`);
    out(`silence ${id} expired`);
  });

  apiOptions(group.command('history').description('notifications sent (and dead-lettered), newest first'))
    .option('--limit <n>', 'how many (default 50)', intFlag('--limit'))
    .action(async (_: unknown, command: Command) => {
      const flags = resolved<ApiFlags & { limit?: number }>(command);
      const result = await api<{ notifications: Array<{ atMillis: number; receiver: string; groupLabels: Record<string, string>; firing: string[]; resolved: string[]; outcome: string; detail?: string }>; deadLetters: unknown[] }>(flags, 'GET', `/api/v1/history?limit=${flags.limit ?? 50}`);
      if (flags.json === true) return out(JSON.stringify(result, null, 2));
      table([['TIME', 'RECEIVER', 'GROUP', 'FIRING', 'RESOLVED', 'OUTCOME'], ...result.notifications.map((n) => [time(n.atMillis), n.receiver, labelText(n.groupLabels) || n.groupLabels.alertname || '-', String(n.firing.length), String(n.resolved.length), `${n.outcome}${n.detail === undefined ? '' : ` (${n.detail})`}`])]);
      out(`\n${result.deadLetters.length} dead-letter record(s)${result.deadLetters.length > 0 ? ' (see --json)' : ''}`);
      return undefined;
    });

  apiOptions(group.command('score').description('grade forecast rules: how often the predicted breach happened (precision) and how early (median lead time)')).action(async (_: unknown, command: Command) => {
    const flags = resolved<ApiFlags>(command);
    const { rules } = await api<{ rules: Array<{ rule: string; predictions: number; hits: number; precision: number | null; medianLeadMillis: number | null; pending: number }> }>(flags, 'GET', '/api/v1/score');
    if (flags.json === true) return out(JSON.stringify({ rules }, null, 2));
    const minutes = (millis: number | null): string => (millis === null ? '-' : `${(millis / 60_000).toFixed(1)} min`);
    table([['RULE', 'GRADED', 'HITS', 'PRECISION', 'MEDIAN LEAD', 'PENDING'], ...rules.map((r) => [r.rule, String(r.predictions), String(r.hits), r.precision === null ? '-' : r.precision.toFixed(2), minutes(r.medianLeadMillis), String(r.pending)])]);
    if (rules.length === 0) out('no forecast rule has fired yet');
    return undefined;
  });

  const routes = group.command('routes').description('inspect the route tree');
  routes
    .command('test')
    .description('which receivers an alert with these labels reaches, its group, and whether a time interval holds it (read from the alerts file)')
    .requiredOption('--labels <k=v>', 'alert labels, k=v (repeatable, or comma separated)', collect)
    .option('--at <time>', 'evaluate time intervals at this time (ISO 8601; default now)')
    .option('--rules <file>', 'the alerts file', './alerts.yaml')
    .option('--json', 'print JSON')
    .action(async (_: unknown, command: Command) => {
      const flags = resolved<{ labels: string[]; at?: string; rules: string; json?: boolean }>(command);
      const { loadAlertsFile, parseLabelPairs, testRoutes } = await import('@sloth/alerts');
      const labels = parseLabelPairs(flags.labels.flatMap((l) => l.split(',')).filter((l) => l !== ''));
      const at = parseAt(flags.at);
      checkRulesFile(flags.rules);
      const results = testRoutes(loadAlertsFile(flags.rules), labels, at);
      if (flags.json === true) return out(JSON.stringify({ at, routes: results }, null, 2));
      for (const r of results) out(`${r.receiver}  (route ${r.route}, group ${labelText(r.groupLabels) || JSON.stringify(r.groupLabels)})${r.mutedBy === undefined ? '' : `  HELD at ${time(at)}: ${r.mutedBy}`}`);
      return undefined;
    });

  group
    .command('export')
    .description('write threshold and absence rules as a Prometheus rule file (promtool check rules accepts it)')
    .requiredOption('--prometheus', 'Prometheus rule-file format')
    .option('--rules <file>', 'the alerts file', './alerts.yaml')
    .option('--output <file>', 'write here instead of stdout')
    .option('--agent-label <name>', 'Prometheus label holding the agent id', 'service_instance_id')
    .action(async (_: unknown, command: Command) => {
      const flags = resolved<{ rules: string; output?: string; agentLabel: string }>(command);
      checkRulesFile(flags.rules);
      // Written after the rules are read: a FIFO would block, a directory fail late.
      if (flags.output !== undefined) checkOutputFile(flags.output, '--output');
      const { exportPrometheusRules, loadAlertsFile } = await import('@sloth/alerts');
      const result = exportPrometheusRules(loadAlertsFile(flags.rules), { agentLabel: flags.agentLabel });
      if (flags.output === undefined) process.stdout.write(result.text);
      else writeFileSync(flags.output, result.text);
      for (const s of result.skipped) process.stderr.write(`skipped ${s.rule}: ${s.reason}\n`);
      if (flags.output !== undefined) out(`wrote ${result.exported.length} rule(s) to ${flags.output}`);
    });
}
