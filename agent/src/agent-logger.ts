import { pino, type Level, type Logger } from 'pino';
import { logRedactPaths } from '@sloth/core/logger';
import type { LogSeverity } from './telemetry.js';
import type { RotatingLogFile } from './log-file.js';


const pinoLevels: Readonly<Record<number, LogSeverity>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const skipped = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'component']);

/** Receives the agent's log lines as OTel log records once telemetry is up. */
export interface LogRecordSink {
  emitLog(severity: LogSeverity, body: string, attributes: Record<string, string | number | boolean>): void;
}

/**
 * Forwards pino lines to OpenTelemetry log records. Attached after the
 * telemetry exists; lines before that go to stdout and the file only.
 */
export class OtelLogBridge {
  sink: LogRecordSink | undefined;

  write(line: string): boolean {
    const sink = this.sink;
    if (sink === undefined) return true;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return true;
    }
    const attributes: Record<string, string | number | boolean> = {};
    for (const [key, value] of Object.entries(record)) {
      if (skipped.has(key) || value === null || value === undefined) continue;
      attributes[key] = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : JSON.stringify(value);
    }
    sink.emitLog(pinoLevels[record.level as number] ?? 'info', typeof record.msg === 'string' ? record.msg : '', attributes);
    return true;
  }
}

export interface AgentLoggerOptions {
  readonly level: string;
  /** Also write to stdout. @defaultValue true */
  readonly stdout?: boolean;
  readonly file?: RotatingLogFile | undefined;
  readonly bridge: OtelLogBridge;
}

/** The agent's logger: JSON lines to stdout, the rotating file and OTel log records. */
export function createAgentLogger(options: AgentLoggerOptions): Logger {
  const level = options.level as Level | 'silent';
  const streams: pino.StreamEntry[] = [];
  if (options.stdout ?? true) streams.push({ level: level === 'silent' ? 'fatal' : level, stream: pino.destination({ dest: 1, sync: false }) });
  if (options.file !== undefined) streams.push({ level: level === 'silent' ? 'fatal' : level, stream: options.file });
  streams.push({ level: level === 'silent' ? 'fatal' : level, stream: options.bridge });
  return pino(
    {
      level,
      redact: { paths: [...logRedactPaths], censor: '[redacted]' },
      base: { pid: process.pid, component: 'agent' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.multistream(streams),
  );
}
