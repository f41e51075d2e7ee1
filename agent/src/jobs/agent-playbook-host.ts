import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { encodeJsonMessage, redactJson, redactText, type RedisKeys, type SlothEvent } from '@sloth/core';
import type { CustomMetrics } from '../metrics/custom-metrics.js';
import type { SystemCpu, SystemMemory } from '../metrics/system-metrics.js';
import { FileStateStore } from '../playbook/state-store.js';
import type { ExecPolicy, FsPolicy, HttpPolicy, MetricAttributes, PlaybookHost, PlaybookLogRecord, PlaybookRunContext } from '../playbook/types.js';
import type { LogSeverity } from '../telemetry.js';

/** The agent facilities a playbook host needs (`AgentTelemetry` provides all of them). */
export interface HostTelemetry {
  readonly customMetrics: CustomMetrics;
  emitLog(severity: LogSeverity, body: string, attributes?: Record<string, string | number | boolean>): void;
  systemCpu(): SystemCpu;
  systemMemory(): SystemMemory;
}

export interface AgentPlaybookHostOptions {
  agentId: string;
  telemetry: HostTelemetry;
  /** Connection used to raise alerts on `sloth:events`. */
  redis: Redis;
  keys: RedisKeys;
  /** The agent's state directory; playbook state goes to `playbook-state.json` in it. */
  stateDir: string;
  exec?: ExecPolicy | undefined;
  http?: HttpPolicy | undefined;
  fs?: FsPolicy | undefined;
}

/**
 * The agent's {@link PlaybookHost}: `log.*` → OTel log records, `metrics.*` →
 * the agent's custom metrics, `metrics.alert` → an `alert` event on
 * `sloth:events`, `state.*` → a JSON file in the agent's state directory,
 * `exec`/`http`/`fs` → the allow-lists of the agent's configuration.
 */
export class AgentPlaybookHost implements PlaybookHost {
  readonly exec: ExecPolicy;
  readonly http: HttpPolicy;
  readonly fs: FsPolicy;
  readonly state: FileStateStore;
  private readonly options: AgentPlaybookHostOptions;

  constructor(options: AgentPlaybookHostOptions) {
    this.options = options;
    this.exec = options.exec ?? { allow: [] };
    this.http = options.http ?? { allowHosts: [] };
    this.fs = options.fs ?? { allowRoots: [] };
    this.state = new FileStateStore(join(options.stateDir, 'playbook-state.json'));
  }

  /**
   * A `log.*` record as an OTel log record to the collector, its secrets masked first (as in the run's report):
   * the params' own secret values wherever the message or an attribute quotes them, values under secret-named
   * keys, and token and webhook shapes.
   */
  log(record: PlaybookLogRecord, run: PlaybookRunContext): void {
    const mask = { paramSecrets: run.secrets };
    const attributes: Record<string, string | number | boolean> = {
      'sloth.playbook.name': run.playbook,
      'sloth.playbook.version': run.version,
      'sloth.playbook.run_id': run.runId,
      'sloth.playbook.dry_run': run.dryRun,
    };
    const attrs = redactJson(record.attrs, mask) as Record<string, unknown>;
    for (const [key, value] of Object.entries(attrs)) {
      attributes[key] = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : JSON.stringify(value);
    }
    this.options.telemetry.emitLog(record.level, redactText(record.message, mask), attributes);
  }

  metric(kind: 'gauge' | 'counter' | 'histogram', name: string, value: number, attrs: MetricAttributes): void {
    const metrics = this.options.telemetry.customMetrics;
    if (kind === 'gauge') metrics.gauge(name, value, attrs);
    else if (kind === 'counter') metrics.counter(name, value, attrs);
    else metrics.histogram(name, value, attrs);
  }

  async latestMetric(name: string, attrs: MetricAttributes): Promise<number | undefined> {
    return this.options.telemetry.customMetrics.latest(name, attrs);
  }

  async systemCpu(): Promise<number> {
    return Math.round(this.options.telemetry.systemCpu().utilization * 10_000) / 100;
  }

  async systemMemory(): Promise<number> {
    return Math.round(this.options.telemetry.systemMemory().utilization * 10_000) / 100;
  }

  async alert(name: string, alert: { level: string; message: string; attrs: Record<string, unknown> }, run: PlaybookRunContext): Promise<void> {
    const event: SlothEvent = {
      type: 'alert',
      agentId: this.options.agentId,
      timestampMillis: Date.now(),
      attributes: { ...alert.attrs, name, level: alert.level, message: alert.message, source: 'playbook', playbook: run.playbook, runId: run.runId },
    };
    await this.options.redis.xadd(this.options.keys.events, 'MAXLEN', '~', 100_000, '*', ...encodeJsonMessage(event));
  }
}
