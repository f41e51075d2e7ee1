import { createRequire } from 'node:module';
import type { Logger, LoggerOptions, pino as Pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Keys whose values never reach a log line: the one list every Sloth logger uses (the agent's
 * multi-destination logger included).
 */
export const logRedactPaths: readonly string[] = [
  'token',
  'tokens',
  '*.token',
  '*.tokens',
  'authorization',
  '*.authorization',
  'headers',
  '*.headers',
  'metricsToken',
  '*.metricsToken',
  'adminToken',
  '*.adminToken',
  'secret',
  'secrets',
  '*.secret',
  '*.secrets',
  'webhookUrl',
  '*.webhookUrl',
  'password',
  '*.password',
];

export interface LoggerSettings {
  /** @defaultValue `info` */
  level?: string;
  /** Component name put on every line (`collector`, `agent`, …). */
  name?: string;
  /** Write to this destination instead of stdout (file descriptor 2 for stderr). */
  destination?: number | string;
}

let loaded: typeof Pino | undefined;

/** pino, loaded on the first logger rather than with this module: CLI commands import this module, and most never log. */
function pinoModule(): typeof Pino {
  loaded ??= (createRequire(import.meta.url)('pino') as { pino: typeof Pino }).pino;
  return loaded;
}

/** Structured JSON logging (pino) with secrets redacted. */
export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? 'info',
    redact: { paths: [...logRedactPaths], censor: '[redacted]' },
    base: settings.name === undefined ? { pid: process.pid } : { pid: process.pid, component: settings.name },
    timestamp: pinoModule().stdTimeFunctions.isoTime,
  };
  const pino = pinoModule();
  const destination = pino.destination({ dest: settings.destination ?? 1, sync: false });
  return pino(options, destination);
}

/** A logger that discards everything, for library use and tests. */
export function silentLogger(): Logger {
  return pinoModule()({ level: 'silent' });
}
