import { existsSync } from 'node:fs';
import { Agent, loadAgentConfig, loadPlaybookDirectory, shutdownPlaybookRuntime } from '@sloth/agent';
import { AnalyticsService, loadAnalyticsConfig } from '@sloth/analytics';
import { loadCollectorConfig, startCollector, type Collector, type TokenEntry } from '@sloth/collector';
import { AlertsService, loadAlertsConfig, loadAlertsFile, missingRulesFileProblem } from '@sloth/alerts';
import { ConfigError, createLogger, ensureJobSigningKey, isSlothError, loadConfig, redactUrl, resolveRedis, SlothError, type CommonConfig, type ConfigProblem, type ConfigSources, type Logger, type ResolvedRedis } from '@sloth/core';
import { redisPasswordPath } from '@sloth/core/redis-server';
import { loadSchedulerConfig, Scheduler } from '@sloth/scheduler';
import { makeOutputDirectory, unreadableFileProblem } from './input-files.js';
import { ensureLocalToken, localTokenPath } from './local-token.js';
import { alertsRulesFile, alertsRulesNamed, playbookDirectory } from './shipped-defaults.js';
import { removeUpEndpoints, writeUpEndpoints } from './up-endpoints.js';

/** What `sloth up` was asked for on the command line. */
export interface UpFlags {
  config?: string;
  dataDir?: string;
  redisUrl?: string;
  redisPrefix?: string;
  logLevel?: string;
  token?: TokenEntry[];
  insecureNoAuth?: boolean;
  /** Address every role listens on. @defaultValue `127.0.0.1` */
  host?: string;
  collectorPort?: number;
  metricsPort?: number;
  schedulerPort?: number;
  /** Alerts API and Alertmanager intake; without it 8081, or a free port when 8081 is taken. */
  alertsPort?: number;
  agentMetricsPort?: number;
  analyticsMetricsPort?: number;
  /** Scheduler's Prometheus port, 0 disables; without it 9467, or a free port when 9467 is taken. */
  schedulerMetricsPort?: number;
  /** Alerts' Prometheus port, 0 disables; without it 9468, or a free port when 9468 is taken. */
  alertsMetricsPort?: number;
  playbooks?: string;
  interval?: number;
  agent?: boolean;
  dryRun?: boolean;
  /** Commands, hosts and directories the local agent's playbooks may use (its allow-lists; none by default). */
  allowExec?: string[];
  allowHttp?: string[];
  allowFs?: string[];
  /**
   * Commands tasks may run (`sloth task submit -- CMD …`, any arguments, by any API token holder): the
   * scheduler's task allow-list, and added to the local agent's exec allow-list so they can run. Apart
   * from `allowExec` on purpose: a binary allowed to reviewed playbooks is not thereby open to tasks.
   */
  allowTaskExec?: string[];
  /** Longest wait for each role to stop before moving on to the next. @defaultValue 15 */
  stopTimeoutSeconds?: number;
}

/** Default bound on each role's stop: a role waiting on a Redis that is gone must not hold the others. */
export const defaultStopTimeoutSeconds = 15;

/** Share of one core analytics' model work (training, forecasts) may use in `sloth up`, in 10 ms slices (under the 0.05 CPU floor of analytics `minChange`). */
export const upTrainingDutyCycle = 0.05;

interface Stoppable {
  name: string;
  stop: () => Promise<void>;
}

/** What a role's configuration depends on that is known only once Redis, the collector and the local token are there. */
interface Runtime {
  redisUrl: string | undefined;
  /** The collector of this stack, known once it listens (alerts and the agent read it). */
  collectorUrl: string | undefined;
  localToken: string | undefined;
  /** The data dir's job-signing key file, known once the data dir exists (the scheduler signs with it, the local agent checks with it). */
  jobSigningKeyFile: string | undefined;
}

type Shared = { dataDir: string | undefined; redisPrefix: string | undefined; logLevel: string | undefined };

/** The configuration sources of every role `sloth up` runs, the same for the validation pass and the start. */
function roleSources(flags: UpFlags, shared: Shared, runtime: Runtime): { collector: ConfigSources; analytics: ConfigSources; scheduler: ConfigSources; alerts: ConfigSources; agent: ConfigSources } {
  const file = flags.config;
  const insecure = flags.insecureNoAuth === true;
  const tokens = flags.token ?? [];
  const host = flags.host ?? '127.0.0.1';
  const adminTokens: TokenEntry[] = runtime.localToken === undefined ? [] : [{ token: runtime.localToken, name: 'local' }];
  // Agent-bound tokens (SECRET:agent) are agent identities, not operators: they do not reach the scheduler.
  const operatorTokens = [...adminTokens, ...tokens.filter((t) => t.name === 'default')].map((t) => ({ token: t.token, name: t.name }));
  const redisUrl = runtime.redisUrl;
  const jobSigningKeyFile = runtime.jobSigningKeyFile;
  return {
    collector: { file, flags: { ...shared, redisUrl, host, tokens: insecure ? undefined : tokens, adminTokens: insecure ? undefined : adminTokens, insecureNoAuth: flags.insecureNoAuth, port: flags.collectorPort, metricsPort: flags.metricsPort } },
    analytics: { file, flags: { ...shared, redisUrl, metricsHost: host, metricsPort: flags.analyticsMetricsPort } },
    scheduler: { file, flags: { ...shared, redisUrl, host, tokens: insecure ? undefined : operatorTokens, insecureNoAuth: flags.insecureNoAuth, port: flags.schedulerPort, metricsPort: flags.schedulerMetricsPort, playbooks: flags.playbooks, dryRun: flags.dryRun, jobSigningKeyFile } },
    alerts: { file, flags: { ...shared, redisUrl, host, tokens: insecure ? undefined : operatorTokens, insecureNoAuth: flags.insecureNoAuth, port: flags.alertsPort, metricsPort: flags.alertsMetricsPort, collectorUrl: runtime.collectorUrl } },
    agent: { file, flags: { ...shared, redisUrl, collector: runtime.collectorUrl, token: runtime.localToken, insecureNoAuth: flags.insecureNoAuth, metricsHost: host, metricsPort: flags.agentMetricsPort, interval: flags.interval, allowExec: flags.allowExec, allowHttp: flags.allowHttp, allowFs: flags.allowFs, jobSigningKeyFile } },
  };
}

/** The `sloth up` flag behind each role's port key (a role's own command calls them all --port / --metrics-port). */
const upPortFlags: Readonly<Record<string, string>> = {
  'collector.port': '--collector-port',
  'collector.metricsPort': '--metrics-port',
  'scheduler.port': '--scheduler-port',
  'scheduler.metricsPort': '--scheduler-metrics-port',
  'alerts.port': '--alerts-port',
  'alerts.metricsPort': '--alerts-metrics-port',
  'analytics.metricsPort': '--analytics-metrics-port',
  'agent.metricsPort': '--agent-metrics-port',
};

/** The `sloth up` flags of one role's ports (`scheduler`: `--scheduler-port, --scheduler-metrics-port`), for a port-in-use message. */
function upRolePortFlags(role: string): string {
  return Object.entries(upPortFlags)
    .filter(([key]) => key.startsWith(`${role}.`))
    .map(([, flag]) => flag)
    .join(', ');
}

/** A problem with a role's port given as a flag, named by the flag `sloth up` took it from. */
function asUpFlag(problem: ConfigProblem): ConfigProblem {
  const flag = upPortFlags[problem.key];
  return flag !== undefined && problem.source.startsWith('flag ') ? { ...problem, source: `flag ${flag}` } : problem;
}

/**
 * Validates every flag, the configuration of every role and the alerts file before anything
 * connects or starts (test/session-e-rules.md, F3): all problems in one {@link ConfigError}.
 * Returns the common configuration.
 */
export function validateUp(flags: UpFlags): Readonly<CommonConfig> {
  const problems: ConfigProblem[] = [];
  const collect = <T>(load: () => T): T | undefined => {
    try {
      return load();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
      return undefined;
    }
  };
  const common = collect(() => loadUpCommon(flags));
  if (flags.stopTimeoutSeconds !== undefined && !(flags.stopTimeoutSeconds > 0)) {
    problems.push({ key: 'stopTimeout', source: 'flag --stop-timeout', value: flags.stopTimeoutSeconds, message: 'must be a positive number of seconds' });
  }
  const shared: Shared = { dataDir: common?.dataDir ?? flags.dataDir, redisPrefix: common?.redisPrefix ?? flags.redisPrefix, logLevel: common?.logLevel ?? flags.logLevel };
  // Stand-ins for what exists only after the start: a Redis URL, the collector's address and the
  // local token (48 hex digits, the shape ensureLocalToken makes).
  const runtime: Runtime = {
    redisUrl: common?.redisUrl ?? 'redis://127.0.0.1:6379',
    collectorUrl: `http://127.0.0.1:${flags.collectorPort !== undefined && flags.collectorPort > 0 && flags.collectorPort < 65536 ? flags.collectorPort : 4318}`,
    localToken: flags.insecureNoAuth === true ? undefined : '0'.repeat(48),
    // Made at the start, in the data dir that may not exist yet: a configured key file is checked then.
    jobSigningKeyFile: undefined,
  };
  const sources = roleSources(flags, shared, runtime);
  const collector = collect(() => loadCollectorConfig(sources.collector));
  // TLS files named in the config file are read whole at the collector's start: a FIFO blocked it for ever.
  for (const [path, key] of [[collector?.tlsCert, 'collector.tlsCert'], [collector?.tlsKey, 'collector.tlsKey']] as const) {
    const unreadable = path === undefined ? undefined : (unreadableFileProblem(path, key, 'config file') ?? (existsSync(path) ? undefined : { key, source: 'config file', value: path, message: `${path} does not exist` }));
    if (unreadable !== undefined) problems.push(unreadable);
  }
  collect(() => loadAnalyticsConfig(sources.analytics));
  collect(() => loadSchedulerConfig(sources.scheduler));
  const alerts = collect(() => loadAlertsConfig(sources.alerts));
  // The alerts service reads its file when it starts, after Redis: read it now (a missing file nobody named means no rules).
  if (alerts !== undefined && !existsSync(alerts.rules) && alertsRulesNamed(undefined, alerts.rules)) problems.push(missingRulesFileProblem(alerts.rules));
  if (alerts !== undefined && existsSync(alerts.rules)) {
    const unreadable = unreadableFileProblem(alerts.rules, 'alerts.rules', 'the alerts file');
    if (unreadable !== undefined) problems.push(unreadable);
    else collect(() => loadAlertsFile(alerts.rules));
  }
  if (flags.agent !== false) collect(() => loadAgentConfig(sources.agent));
  if (problems.length > 0 || common === undefined) {
    // Each role reads the common keys and the file's top level: the same problem once.
    const seen = new Set<string>();
    throw new ConfigError(problems.map(asUpFlag).filter((p) => {
      const key = `${p.key}\u0000${p.source}\u0000${p.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    }));
  }
  return common;
}

function loadUpCommon(flags: UpFlags): Readonly<CommonConfig> {
  return loadConfig('up', {}, { file: flags.config, flags: { dataDir: flags.dataDir, redisUrl: flags.redisUrl, redisPrefix: flags.redisPrefix, logLevel: flags.logLevel } });
}

/** Every role of Sloth in one process, started in dependency order and stopped in reverse. */
export class AllInOne {
  private readonly stack: Stoppable[] = [];
  private readonly lines: string[] = [];
  private logger: Logger | undefined;
  /** Stops analytics from opening or updating incidents; set once analytics runs. */
  private quiesce: (() => void) | undefined;
  private stopTimeoutMillis = defaultStopTimeoutSeconds * 1000;

  /** Lines describing what listens where, for the terminal. */
  get summary(): readonly string[] {
    return this.lines;
  }

  async start(flags: UpFlags): Promise<void> {
    // Everything the user gave is checked before Redis is looked for (test/session-e-rules.md, F3).
    const common = validateUp(flags);
    // Made level by level: Node's recursive mkdir (the local token, Redis' AOF dir) loops for ever under /proc.
    makeOutputDirectory(common.dataDir, `cannot use the data dir ${common.dataDir}`, { mode: 0o700 });
    const logger = createLogger({ name: 'up', level: common.logLevel, destination: 2 });
    this.logger = logger;
    if (flags.stopTimeoutSeconds !== undefined) this.stopTimeoutMillis = flags.stopTimeoutSeconds * 1000;
    const shared: Shared = { dataDir: common.dataDir, redisPrefix: common.redisPrefix, logLevel: common.logLevel };

    let starting: 'collector' | 'analytics' | 'scheduler' | 'alerts' | 'agent' | undefined;
    try {
      const redis: ResolvedRedis = await resolveRedis({ url: common.redisUrl, dataDir: common.dataDir, logger });
      if (redis.server !== undefined) {
        const server = redis.server;
        this.stack.push({ name: 'redis-server', stop: () => server.stop() });
      }
      const adoptedPid = redis.server?.adoptedPid;
      const passwordNote = `password in ${redisPasswordPath(`${common.dataDir}/redis`)}`;
      const spawned = adoptedPid === undefined ? `started here, AOF in ${common.dataDir}/redis, ${passwordNote}` : `the redis-server (pid ${adoptedPid}) an earlier sloth up on this data dir left running, adopted; AOF in ${common.dataDir}/redis, ${passwordNote}`;
      const how = redis.how === 'spawned' ? spawned : redis.how === 'local' ? `local, ${passwordNote}` : redis.how;
      // The URL carries the password: only its redacted form is shown.
      this.lines.push(`redis      ${redactUrl(redis.url)} (${how})`);

      const insecure = flags.insecureNoAuth === true;
      const tokens = flags.token ?? [];
      // The local token is the operator's: admin on the collector (the local agent writes with it)
      // and accepted by the scheduler, so `sloth status` / `sloth remediation` work without flags.
      let agentToken: string | undefined;
      if (!insecure) {
        agentToken = ensureLocalToken(common.dataDir);
        this.lines.push(`auth       admin token in ${localTokenPath(common.dataDir)} (used by the local agent, sloth status, sloth remediation)${tokens.length > 0 ? `; ${tokens.length} more --token` : ''}`);
      } else {
        this.lines.push('auth       OFF (--insecure-no-auth): local use only');
      }
      const host = flags.host ?? '127.0.0.1';
      // Always made: the local agent then runs only jobs the scheduler signed, not whatever a Redis writer queues.
      const signing = ensureJobSigningKey(common.dataDir);
      this.lines.push(`jobs       signed by the scheduler, checked by the local agent; key in ${signing.path} (give it to other agents as jobSigningKeyFile)`);
      const runtime: Runtime = { redisUrl: redis.url, collectorUrl: undefined, localToken: agentToken, jobSigningKeyFile: signing.path };

      starting = 'collector';
      const collectorConfig = loadCollectorConfig(roleSources(flags, shared, runtime).collector);
      const collector: Collector = await startCollector(collectorConfig, { logger: logger.child({ role: 'collector' }) });
      this.stack.push({ name: 'collector', stop: () => collector.shutdown() });
      const { otlpUrl, metricsUrl, otlpBound, metricsBound } = collector.urls;
      this.lines.push(`collector  ${otlpUrl}/v1/{metrics,traces,logs}, query API ${otlpUrl}/api/v1/, Prometheus ${metricsUrl} (bound to ${otlpBound}, ${metricsBound})`);
      runtime.collectorUrl = otlpUrl;
      const sources = roleSources(flags, shared, runtime);

      starting = 'analytics';
      const analyticsConfig = loadAnalyticsConfig(sources.analytics);
      // Analytics shares this host with the agent that watches it: its training is paced (unless configured).
      const analytics = new AnalyticsService({ ...analyticsConfig, trainingDutyCycle: analyticsConfig.trainingDutyCycle ?? upTrainingDutyCycle, redisUrl: redis.url }, { logger: logger.child({ role: 'analytics' }) });
      await analytics.start();
      this.stack.push({ name: 'analytics', stop: () => analytics.shutdown() });
      this.quiesce = () => analytics.quiesce();
      this.lines.push(`analytics  ${common.redisPrefix}:samples → ${common.redisPrefix}:anomalies, ${common.redisPrefix}:forecasts${analytics.metricsPort === 0 ? '' : `; Prometheus http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${analytics.metricsPort}/metrics (bound to ${host}:${analytics.metricsPort})`}`);

      starting = 'scheduler';
      const loadedScheduler = loadSchedulerConfig(sources.scheduler);
      const playbooks = playbookDirectory(flags.playbooks, loadedScheduler.playbooks);
      const schedulerConfig = { ...loadedScheduler, playbooks: playbooks.path };
      this.stack.push({ name: 'playbook runtime', stop: () => shutdownPlaybookRuntime() });
      // Task placement reads the agent inventory from this stack's collector, with the local token. Commands
      // --allow-task-exec opens to tasks replace the configured task allow-list and join the local agent's.
      const taskCommands = flags.allowTaskExec ?? schedulerConfig.tasks.allowedCommands;
      const loadedAgent = flags.agent === false ? undefined : loadAgentConfig(sources.agent);
      const agentConfig = loadedAgent === undefined || flags.allowTaskExec === undefined ? loadedAgent : { ...loadedAgent, allowExec: [...new Set([...loadedAgent.allowExec, ...flags.allowTaskExec])] };
      const placementConfig = { ...schedulerConfig, tasks: { ...schedulerConfig.tasks, allowedCommands: taskCommands, collectorUrl: otlpUrl, collectorToken: schedulerConfig.tasks.collectorToken ?? agentToken } };
      const scheduler = new Scheduler({ config: placementConfig, redisUrl: redis.url, loadPlaybooks: loadPlaybookDirectory, logger: logger.child({ role: 'scheduler' }), anyMetricsPortIfTaken: flags.schedulerMetricsPort === undefined });
      await scheduler.start();
      this.stack.push({ name: 'scheduler', stop: () => scheduler.shutdown() });
      const api = scheduler.listening;
      this.lines.push(`scheduler  http://${api.host === '0.0.0.0' ? '127.0.0.1' : api.host}:${api.port}/api/v1/remediations (bound to ${api.host}:${api.port}); ${scheduler.loadedPlaybooks.length} playbook(s) from ${schedulerConfig.playbooks}${playbooks.fallback ? ' (shipped with Sloth: ./playbooks does not exist here)' : ''}${scheduler.metricsPort === 0 ? '' : `; Prometheus http://${api.host === '0.0.0.0' ? '127.0.0.1' : api.host}:${scheduler.metricsPort}/metrics`}`);

      // Alerts: operator tokens reach its API, as on the scheduler (an agent-bound token must not silence alerts);
      // it reads the collector with the local token.
      starting = 'alerts';
      const loadedAlerts = loadAlertsConfig(sources.alerts);
      const alertsRules = alertsRulesFile(undefined, loadedAlerts.rules);
      const alertsConfig = { ...loadedAlerts, rules: alertsRules.path };
      const alerts = new AlertsService({ config: alertsConfig, redisUrl: redis.url, logger: logger.child({ role: 'alerts' }), collectorToken: agentToken, anyPortIfTaken: flags.alertsPort === undefined, anyMetricsPortIfTaken: flags.alertsMetricsPort === undefined, rulesFileOptional: !alertsRulesNamed(undefined, loadedAlerts.rules) });
      await alerts.start();
      this.stack.push({ name: 'alerts', stop: () => alerts.shutdown() });
      const alertsBound = alerts.listening === undefined ? '?' : `${alerts.listening.host}:${alerts.listening.port}`;
      this.lines.push(`alerts     ${alerts.listening?.url ?? '?'}/api/v1/alerts, Alertmanager intake /api/v1/intake/alertmanager (bound to ${alertsBound}); ${alerts.engine?.alertsFile.rules.length ?? 0} rule(s) from ${alertsConfig.rules}${alertsRules.fallback ? ' (shipped with Sloth: ./alerts.yaml does not exist here)' : ''}${alerts.metricsPort === 0 ? '' : `; Prometheus http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${alerts.metricsPort}/metrics (bound to ${host}:${alerts.metricsPort})`}`);

      if (agentConfig !== undefined) {
        starting = 'agent';
        const agent = new Agent(agentConfig, { stdout: false });
        await agent.start();
        this.stack.push({ name: 'agent', stop: () => agent.shutdown() });
        this.lines.push(`agent      ${agent.id} every ${agentConfig.interval} s${agentConfig.metricsPort === 0 ? '' : `; Prometheus http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${agentConfig.metricsPort}/metrics (bound to ${host}:${agentConfig.metricsPort})`}; runs remediations from queue ${agent.remediationQueue ?? '(off)'}; playbooks may run ${agentConfig.allowExec.length === 0 ? 'no command (--allow-exec CMD)' : agentConfig.allowExec.join(', ')}${taskCommands.length === 0 ? '' : `; tasks may run ${taskCommands.join(', ')}`}`);
      }
      // For `sloth report` (and whoever else runs in this directory): where each part answers.
      writeUpEndpoints(common.dataDir, {
        collector: otlpUrl,
        scheduler: api.url,
        ...(alerts.listening === undefined ? {} : { alerts: alerts.listening.url }),
        redisUrl: redis.url,
        redisPrefix: common.redisPrefix,
        pid: process.pid,
      });
      this.stack.push({ name: 'endpoints file', stop: async () => removeUpEndpoints(common.dataDir) });
    } catch (error) {
      await this.shutdown();
      // The roles name their own commands' flags (--port, --metrics-port); under sloth up each has its own.
      if (starting !== undefined && isSlothError(error) && error.code === 'SLOTH_ERR_PORT_IN_USE') {
        throw new SlothError(error.code, `${error.message} (with sloth up, the ${starting}'s port flags are ${upRolePortFlags(starting)})`, { cause: error, details: error.details });
      }
      throw error;
    }
  }

  /**
   * Stops every started role in reverse order; a failure in one does not stop the others from stopping,
   * and a role that does not stop within the stop timeout (one waiting on a Redis that is gone, say) is
   * left behind so the ones after it (the collector, which holds acknowledged data, stops last) still stop.
   * Returns the names of the roles that failed or did not stop in time.
   */
  async shutdown(): Promise<string[]> {
    // Roles stop one by one, analytics after the agent and the others: what it scores meanwhile is shutdown, not the host.
    this.quiesce?.();
    const unclean: string[] = [];
    while (this.stack.length > 0) {
      const part = this.stack.pop();
      if (part === undefined) break;
      const startedMillis = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), this.stopTimeoutMillis);
      });
      try {
        const outcome = await Promise.race([part.stop().then(() => 'stopped' as const), timedOut]);
        if (outcome === 'timeout') {
          unclean.push(part.name);
          this.logger?.error(`${part.name} did not stop within ${this.stopTimeoutMillis / 1000} s (is Redis reachable?); going on without it`);
        } else {
          this.logger?.info({ millis: Date.now() - startedMillis }, `${part.name} stopped`);
        }
      } catch (error) {
        unclean.push(part.name);
        this.logger?.error({ err: error }, `stopping ${part.name} failed`);
      } finally {
        clearTimeout(timer);
      }
    }
    this.logger?.flush();
    return unclean;
  }
}
