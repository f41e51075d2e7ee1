import { z } from 'zod';
import { loadConfig, readJobSigningKey, readTokenFile, withSharedKeyFile, type ConfigSources, type JobSigningKey } from '@sloth/core';
import { scalingConfigSchema } from './scaling/config.js';
import { tasksConfigSchema } from './tasks/config.js';

/** One API token: a bare secret, or a secret with the name recorded in the audit log. */
const tokenSchema = z.union([z.string().min(8, 'tokens must be at least 8 characters'), z.object({ token: z.string().min(8), name: z.string().min(1).optional() })]);

/** The scheduler's own configuration keys (section `scheduler:` of the config file). */
export const schedulerConfigShape = {
  /** @defaultValue 8080 */
  port: z.number().int().min(0).max(65535).default(8080),
  /** Address to listen on; `0.0.0.0` opens the API to the network. @defaultValue `127.0.0.1` */
  host: z.string().min(1).default('127.0.0.1'),
  /** Prometheus `/metrics` port (same address as the API; no token: keep it off untrusted networks); 0 disables it. @defaultValue 9467 */
  metricsPort: z.number().int().min(0).max(65535).default(9467),
  /** Directory of `*.lua` playbooks. @defaultValue `./playbooks` */
  playbooks: z.string().min(1).default('./playbooks'),
  /** Bearer tokens accepted by the HTTP API. */
  tokens: z.array(tokenSchema).default([]),
  /** File of API tokens, one `SECRET[:name]` per line, mode 0600 (`--token-file`, `SLOTH_SCHEDULER_TOKEN_FILE`): keeps secrets out of `ps`. */
  tokenFile: z.string().min(1).optional(),
  /**
   * File (mode 0600) of the key every job queued for an agent is signed with (the agents' `jobSigningKeyFile`).
   * Also `SLOTH_JOB_SIGNING_KEY_FILE`. Without one jobs go unsigned and an agent holding a key refuses them.
   */
  jobSigningKeyFile: z.string().min(1).optional(),
  /** Serve the API without authentication (local use only). @defaultValue false */
  insecureNoAuth: z.boolean().default(false),
  /** Run every playbook in dry-run mode. @defaultValue false */
  dryRun: z.boolean().default(false),
  /** Playbooks (by name) always run in dry-run mode. */
  dryRunPlaybooks: z.array(z.string()).default([]),
  /** Parameters per playbook name (`{ restart-unit: { unit: nginx } }`); event attributes named like a declared param override them. */
  playbookParams: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  /** Same playbook on the same target inside this window runs once. @defaultValue 300 */
  cooldownSeconds: z.number().min(0).default(300),
  /** Remediations queued or running at once, all agents. @defaultValue 20 */
  maxConcurrent: z.number().int().min(1).default(20),
  /** Remediations queued or running at once on one agent. @defaultValue 2 */
  maxConcurrentPerAgent: z.number().int().min(1).default(2),
  /** A remediation waiting for approval expires after this long. @defaultValue 3600 */
  approvalTimeoutSeconds: z.number().positive().default(3600),
  /** A queued remediation without a result after this long is failed (its agent may be gone). @defaultValue 3600 */
  resultTimeoutSeconds: z.number().positive().default(3600),
  /** Consumer group on `sloth:anomalies` / `sloth:events` shared by all schedulers. @defaultValue `scheduler` */
  consumerGroup: z.string().min(1).default('scheduler'),
  /** This process's consumer name in the group. @defaultValue `<hostname>-<pid>` */
  consumerName: z.string().min(1).optional(),
  /** Task placement: collector for the agent inventory, default strategy, limits, command allow-list. */
  tasks: tasksConfigSchema.prefault({}),
  /** Predictive-scaling targets. */
  scaling: scalingConfigSchema,
};

export type SchedulerConfig = Readonly<z.infer<z.ZodObject<typeof schedulerConfigShape>>> & {
  readonly dataDir: string;
  readonly redisUrl?: string | undefined;
  readonly redisPrefix: string;
  readonly logLevel: string;
  /** The key read from `jobSigningKeyFile`. */
  readonly jobSigningKey?: JobSigningKey | undefined;
};

/** Loads and validates the scheduler configuration (defaults → file → env → flags). */
export function loadSchedulerConfig(sources: ConfigSources = {}): SchedulerConfig {
  const config = loadConfig('scheduler', schedulerConfigShape, withSharedKeyFile('SCHEDULER', sources));
  if (config.tokenFile === undefined && config.jobSigningKeyFile === undefined) return config;
  const fromFile = config.tokenFile === undefined ? [] : readTokenFile(config.tokenFile).map(({ token, name }) => ({ token, name }));
  const jobSigningKey = config.jobSigningKeyFile === undefined ? undefined : readJobSigningKey(config.jobSigningKeyFile);
  return Object.freeze({ ...config, ...(jobSigningKey === undefined ? {} : { jobSigningKey }), tokens: [...config.tokens, ...fromFile] });
}

/** The token → caller name table of the API. */
export function tokenTable(tokens: SchedulerConfig['tokens']): Map<string, string> {
  const table = new Map<string, string>();
  tokens.forEach((entry, index) => {
    if (typeof entry === 'string') table.set(entry, `token-${index + 1}`);
    else table.set(entry.token, entry.name ?? `token-${index + 1}`);
  });
  return table;
}

/**
 * The secrets the scheduler holds (API tokens, collector token, scaling webhook URLs and secrets, the
 * Redis password): masked in text it stores but did not write, such as what a task's command printed.
 */
export function configuredSecrets(config: SchedulerConfig, redisUrl: string): string[] {
  const secrets = [...tokenTable(config.tokens).keys()];
  if (config.tasks.collectorToken !== undefined) secrets.push(config.tasks.collectorToken);
  for (const target of config.scaling) if (target.actuator?.kind === 'webhook') secrets.push(target.actuator.url, target.actuator.secret);
  // The key as its file holds it: a task that prints that file shows ***.
  if (config.jobSigningKey !== undefined) secrets.push(...config.jobSigningKey.maskForms());
  try {
    const password = decodeURIComponent(new URL(redisUrl).password);
    if (password !== '') secrets.push(password);
  } catch {
    // Not a URL, or a password that is not valid percent-encoding: nothing more to mask.
  }
  return secrets;
}
