import { z } from 'zod';
import { loadConfig, parseTokenSpec, type ConfigSources, type TokenSpec } from '@sloth/core';

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
  /** Serve the API without authentication (local use only). @defaultValue false */
  insecureNoAuth: z.boolean().default(false),
  /** The alerts file: rules, routes, receivers. @defaultValue `./alerts.yaml` */
  rules: z.string().min(1).default('./alerts.yaml'),
  /** The collector whose query API threshold, forecast-guard and absence rules read. @defaultValue `http://127.0.0.1:4318` */
  collectorUrl: z.string().url().default('http://127.0.0.1:4318'),
  /** Token for the collector's query API. */
  collectorToken: z.string().min(8).optional(),
  /** How people reach this API (silence links in notifications). @defaultValue `http://127.0.0.1:<port>` */
  publicUrl: z.string().url().optional(),
};

export type AlertsConfig = Readonly<z.infer<z.ZodObject<typeof alertsConfigShape>>> & {
  readonly dataDir: string;
  readonly redisUrl?: string | undefined;
  readonly redisPrefix: string;
  readonly logLevel: string;
};

/** Loads and validates the alerts configuration (defaults → file → env → flags). */
export function loadAlertsConfig(sources: ConfigSources = {}): AlertsConfig {
  return loadConfig('alerts', alertsConfigShape, sources);
}

export function tokenSpecs(tokens: AlertsConfig['tokens']): TokenSpec[] {
  return tokens.map((entry, index) =>
    typeof entry === 'string' ? parseTokenSpec(entry) : { token: entry.token, name: entry.name ?? `token-${index + 1}`, admin: entry.admin },
  );
}
