import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Keys whose values never reach a log line. */
const redactPaths = [
  'token',
  'tokens',
  '*.token',
  '*.tokens',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'metricsToken',
  '*.metricsToken',
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

/** Structured JSON logging (pino) with secrets redacted. */
export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? 'info',
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: settings.name === undefined ? { pid: process.pid } : { pid: process.pid, component: settings.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const destination = pino.destination({ dest: settings.destination ?? 1, sync: false });
  return pino(options, destination);
}

/** A logger that discards everything, for library use and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
