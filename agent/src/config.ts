import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, isSlothError, loadConfig, readJobSigningKey, withSharedKeyFile, type ConfigProblem, type ConfigSources, type JobSigningKey } from '@sloth/core';
import { execPolicyProblems } from './playbook/exec-policy.js';
import { healthChecksSchema } from './health/check-config.js';

const collectorUrl = z.string().refine((text) => {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}, 'must be an http:// or https:// URL such as http://127.0.0.1:4318')
  // fetch refuses a URL with a user name or password, and its error quotes the URL, password included, in every export failure.
  .refine((text) => !URL.canParse(text) || (new URL(text).username === '' && new URL(text).password === ''), 'must not carry a user name or password (the token goes in agent.token)');

/** The agent's own configuration keys (section `agent:` of the config file, `SLOTH_AGENT_*`, flags). */
export const agentConfigShape = {
  /** Base URL of the collector's OTLP/HTTP endpoint. @defaultValue `http://127.0.0.1:4318` */
  collector: collectorUrl.default('http://127.0.0.1:4318'),
  /** Bearer token sent to the collector; required unless `insecureNoAuth`. */
  token: z.string().min(1, 'must not be empty').optional(),
  /** Send without a token (collector started with --insecure-no-auth). @defaultValue false */
  insecureNoAuth: z.boolean().default(false),
  /** Seconds between collections (and exports). @defaultValue 10 */
  interval: z.number().min(1, 'must be at least 1 second').max(3600, 'must be at most 3600 seconds').default(10),
  /** Port of the agent's Prometheus endpoint; 0 disables it. @defaultValue 9465 */
  metricsPort: z.number().int().min(0).max(65535).default(9465),
  /** Address of the /metrics endpoint; 0.0.0.0 opens it to the network. @defaultValue `127.0.0.1` */
  metricsHost: z.string().min(1).default('127.0.0.1'),
  /** Labels for placement (`role: web`), exported as `sloth.agent.label.<key>`. @defaultValue {} */
  labels: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,62}$/, 'label keys are letters, digits, "_", "." or "-"'), z.string({ error: 'write each label as key=value' }).max(256)).default({}),
  /** Fixes the agent id instead of generating one. */
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, 'use letters, digits, "_", ".", ":" or "-"').optional(),
  /** Where the agent keeps its id, spool and check state. @defaultValue `<dataDir>/agent` */
  stateDir: z.string().min(1).optional(),
  /** Bound of the export spool in MiB. @defaultValue 256 */
  maxSpoolMb: z.number().positive().default(256),
  /** Health checks. @defaultValue [] */
  checks: healthChecksSchema.default([]),
  /** The agent's log file; `off` disables it. @defaultValue `<stateDir>/agent.log` */
  logFile: z.string().min(1).optional(),
  /** Size at which the log file rotates, MiB. @defaultValue 10 */
  logMaxMb: z.number().positive().default(10),
  /** Rotated log files kept besides the current one. @defaultValue 5 */
  logMaxFiles: z.number().int().min(0).max(100).default(5),
  /** Collect host metrics (off for an embedded agent in tests). @defaultValue true */
  hostMetrics: z.boolean().default(true),
  /** Serve remediation jobs (queue `agent.<id>`) when `redisUrl` is set. @defaultValue true */
  remediation: z.boolean().default(true),
  /** Commands remediation playbooks may run with `exec` (argv[0], exact). @defaultValue [] */
  allowExec: z.array(z.string().min(1)).default([]),
  /**
   * Environment keys a playbook may pass to one command beyond the built-in allow-list (locale, `TZ`,
   * `NO_COLOR`, `TERM`, …), by command: `{ systemctl: [SYSTEMD_COLORS] }`. Keys that load or run other
   * code (`LD_*`, `BASH_ENV`, `NODE_OPTIONS`, …) are refused here at start-up. @defaultValue {}
   */
  allowExecEnv: z.record(z.string().min(1), z.array(z.string().min(1))).default({}),
  /** Hosts remediation playbooks may call with `http`. @defaultValue [] */
  allowHttp: z.array(z.string().min(1)).default([]),
  /** Directories remediation playbooks may change with `fs`. @defaultValue [] */
  allowFs: z.array(z.string().min(1)).default([]),
  /**
   * File (mode 0600) of the key remediation jobs must be signed with: the scheduler's `jobSigningKeyFile`.
   * Also `SLOTH_JOB_SIGNING_KEY_FILE`. Without one the agent runs any job on its queue.
   */
  jobSigningKeyFile: z.string().min(1).optional(),
};

export type AgentConfig = Readonly<z.infer<z.ZodObject<typeof agentConfigShape>>> & {
  /** The key read from `jobSigningKeyFile`. */
  readonly jobSigningKey?: JobSigningKey | undefined;
  readonly dataDir: string; readonly logLevel: string; readonly redisUrl?: string | undefined; readonly redisPrefix?: string | undefined };

/** Paths derived from the config. */
export function agentPaths(config: Pick<AgentConfig, 'dataDir' | 'stateDir' | 'logFile'>): { stateDir: string; spoolDir: string; checksFile: string; logFile: string | undefined } {
  const stateDir = resolve(config.stateDir ?? join(config.dataDir, 'agent'));
  return {
    stateDir,
    spoolDir: join(stateDir, 'spool'),
    checksFile: join(stateDir, 'checks.json'),
    logFile: config.logFile === 'off' ? undefined : resolve(config.logFile ?? join(stateDir, 'agent.log')),
  };
}

/** Turns repeated `--label k=v` flags into a map; a flag without `=` becomes a key the schema rejects by name. */
export function parseLabelFlags(values: readonly string[] | undefined): Record<string, string | undefined> | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const labels: Record<string, string | undefined> = {};
  for (const item of values) {
    const eq = item.indexOf('=');
    if (eq <= 0) labels[item] = undefined;
    else labels[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return labels;
}

/**
 * Loads and validates the agent's configuration; every problem is reported
 * at once, including a missing token (unless `insecureNoAuth`).
 */
export function loadAgentConfig(sources: ConfigSources = {}): AgentConfig {
  let problems: ConfigProblem[] = [];
  let config: AgentConfig | undefined;
  try {
    config = loadConfig('agent', agentConfigShape, withSharedKeyFile('AGENT', sources));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems = [...error.problems];
  }
  if (config !== undefined) {
    for (const message of execPolicyProblems({ allow: config.allowExec, allowEnv: config.allowExecEnv })) {
      problems.push({ key: 'agent.allowExecEnv', source: 'configuration', value: config.allowExecEnv, message });
    }
  }
  const tokenProblem = missingToken(config, sources);
  if (tokenProblem !== undefined) problems.push(tokenProblem);
  let jobSigningKey: JobSigningKey | undefined;
  if (config?.jobSigningKeyFile !== undefined) {
    try {
      jobSigningKey = readJobSigningKey(config.jobSigningKeyFile);
    } catch (error) {
      if (!isSlothError(error)) throw error;
      problems.push({ key: 'agent.jobSigningKeyFile', source: 'configuration', value: config.jobSigningKeyFile, message: error.message });
    }
  }
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems);
  return jobSigningKey === undefined ? config : Object.freeze({ ...config, jobSigningKey });
}

function missingToken(config: AgentConfig | undefined, sources: ConfigSources): ConfigProblem | undefined {
  let token: unknown;
  let insecure: unknown;
  if (config !== undefined) {
    token = config.token;
    insecure = config.insecureNoAuth;
  } else {
    // The full schema failed: read just these two keys, leniently, so the token problem is still listed.
    const loose = Object.fromEntries(Object.keys(agentConfigShape).map((k) => [k, z.unknown().optional()]));
    try {
      const values = loadConfig('agent', loose, sources) as Record<string, unknown>;
      token = values.token;
      insecure = values.insecureNoAuth;
    } catch {
      return undefined;
    }
  }
  if (insecure === true || (typeof token === 'string' && token !== '')) return undefined;
  return {
    key: 'agent.token',
    source: 'default',
    value: undefined,
    message: 'a collector token is required: pass --token (or SLOTH_AGENT_TOKEN, or agent.token in the config file), or --insecure-no-auth for a collector without auth',
  };
}

/** The agent's state dir from flags and config, without requiring a valid full config (for `sloth agent checks`). */
export function resolveAgentStateDir(sources: ConfigSources = {}): string {
  const loose = Object.fromEntries(Object.keys(agentConfigShape).map((k) => [k, z.unknown().optional()]));
  const values = loadConfig('agent', loose, sources) as Record<string, unknown>;
  return agentPaths({ dataDir: values.dataDir as string, stateDir: typeof values.stateDir === 'string' ? values.stateDir : undefined, logFile: 'off' }).stateDir;
}
