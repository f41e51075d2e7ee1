import { z } from 'zod';
import { ConfigError, isSlothError, loadConfig, parseTokenSpec, readTokenFile, type ConfigProblem, type ConfigSources, type TokenSpec } from '@sloth/core';

const tokenSchema = z.union([
  z.string().min(8, 'tokens must be at least 8 characters (SECRET[:name])'),
  z.object({ token: z.string().min(8), name: z.string().min(1).optional(), admin: z.boolean().optional() }),
]);

/** The alerts role's own keys (section `alerts:` of the config file). */
export const alertsConfigShape = {
  /** HTTP API and Alertmanager intake. @defaultValue 8081 */
  port: z.number().int().min(0).max(65535).default(8081),
  /** `0.0.0.0` opens the API to the network. @defaultValue `127.0.0.1` */
  host: z.string().min(1).default('127.0.0.1'),
  /** Prometheus `/metrics` port (same address as the API; no token: keep it off untrusted networks); 0 disables it. @defaultValue 9468 */
  metricsPort: z.number().int().min(0).max(65535).default(9468),
  /** Bearer tokens (`SECRET[:name]`); the name is recorded as the author of silences. */
  tokens: z.array(tokenSchema).default([]),
  /** File of API tokens, one `SECRET[:name]` per line, mode 0600 (`--token-file`, `SLOTH_ALERTS_TOKEN_FILE`): keeps them out of `ps`. */
  tokenFile: z.string().min(1).optional(),
  /** Serve the API without authentication (local use only). @defaultValue false */
  insecureNoAuth: z.boolean().default(false),
  /** The alerts file: rules, routes, receivers. @defaultValue `./alerts.yaml` */
  rules: z.string().min(1).default('./alerts.yaml'),
  /** The collector whose query API threshold, forecast-guard and absence rules read. @defaultValue `http://127.0.0.1:4318` */
  collectorUrl: z.string().url().default('http://127.0.0.1:4318'),
  /** Token for the collector's query API. */
  collectorToken: z.string().min(8).optional(),
  /** File holding the collector token, mode 0600 (`--collector-token-file`, `SLOTH_ALERTS_COLLECTOR_TOKEN_FILE`): keeps it out of `ps`. */
  collectorTokenFile: z.string().min(1).optional(),
  /** How people reach this API (silence links in notifications). @defaultValue `http://127.0.0.1:<port>` */
  publicUrl: z.string().url().optional(),
};

export type AlertsConfig = Readonly<z.infer<z.ZodObject<typeof alertsConfigShape>>> & {
  readonly dataDir: string;
  readonly redisUrl?: string | undefined;
  readonly redisPrefix: string;
  readonly logLevel: string;
};

/**
 * Loads and validates the alerts configuration (defaults → file → env → flags), then reads the token
 * files: API tokens from `tokenFile` join `tokens`; `collectorTokenFile` fills `collectorToken`. A file
 * that is missing, not a regular file, too large or readable by group or others is a problem naming
 * its path, reported with every other.
 */
export function loadAlertsConfig(sources: ConfigSources = {}): AlertsConfig {
  const config = loadConfig('alerts', alertsConfigShape, sources);
  const problems: ConfigProblem[] = [];
  const read = (path: string | undefined, key: string, source: string): TokenSpec[] => {
    if (path === undefined) return [];
    try {
      return readTokenFile(path);
    } catch (error) {
      if (!isSlothError(error)) throw error;
      problems.push({ key, source, value: undefined, message: error.message });
      return [];
    }
  };
  const fromFile = read(config.tokenFile, 'alerts.tokenFile', '--token-file, alerts.tokenFile or SLOTH_ALERTS_TOKEN_FILE');
  if (config.collectorToken !== undefined && config.collectorTokenFile !== undefined) {
    problems.push({ key: 'alerts.collectorToken', source: 'flags, config file or environment', value: undefined, message: 'give collectorToken (--collector-token) or collectorTokenFile (--collector-token-file), not both' });
  }
  const collectorToken = config.collectorToken ?? read(config.collectorTokenFile, 'alerts.collectorTokenFile', '--collector-token-file, alerts.collectorTokenFile or SLOTH_ALERTS_COLLECTOR_TOKEN_FILE')[0]?.token;
  if (problems.length > 0) throw new ConfigError(problems);
  if (fromFile.length === 0 && collectorToken === config.collectorToken) return config;
  return Object.freeze({ ...config, tokens: [...config.tokens, ...fromFile.map(({ token, name }) => ({ token, name }))], collectorToken });
}

export function tokenSpecs(tokens: AlertsConfig['tokens']): TokenSpec[] {
  return tokens.map((entry, index) =>
    typeof entry === 'string' ? parseTokenSpec(entry) : { token: entry.token, name: entry.name ?? `token-${index + 1}`, admin: entry.admin },
  );
}
