import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisServer, type LatestPoint, type QueryResult } from '@sloth/core';
import type { ReceiverSpec } from '../src/rules-schema.js';
import { AlertsEngine, type AlertStateStore, Delivery, type ForecastGrader, NotificationLog, parseAlertsFile, SignalStore, Silences, type CurrentValues, type DeliveryResult, type Integration, type Notification } from '../src/index.js';

export const T0 = Date.UTC(2026, 0, 5, 12, 0, 0); // a Monday, 12:00 UTC

/** The collector's latest values, as a small settable table (the engine's only view of the collector). */
export class TableValues implements CurrentValues {
  points: LatestPoint[] = [];
  failure: string | undefined;

  set(name: string, agentId: string, value: number, tMillis: number, labels: Record<string, string> = {}): void {
    const key = `${name}{agent="${agentId}"${Object.entries(labels).map(([k, v]) => `,${k}="${v}"`).join('')}}`;
    this.points = this.points.filter((p) => p.key !== key);
    this.points.push({ key, name, agentId, kind: 'gauge', unit: '1', labels, t: tMillis, v: value });
  }

  async latest(filter: { name?: string }): Promise<QueryResult<LatestPoint[]>> {
    if (this.failure !== undefined) return { ok: false, kind: 'unreachable', code: 'SLOTH_ERR_UNREACHABLE', message: this.failure, details: {}, retryable: true };
    return { ok: true, value: this.points.filter((p) => filter.name === undefined || p.name === filter.name) };
  }
}

/** Records what a receiver was sent (a stand-in for an external system). */
export class RecordingIntegration implements Integration {
  readonly name = 'recorder';
  readonly sendResolved = true;
  readonly sent: Notification[] = [];
  async send(notification: Notification): Promise<DeliveryResult> {
    this.sent.push(notification);
    return { kind: 'success' };
  }
}

export interface Rig {
  clock: { now: number };
  engine: AlertsEngine;
  values: TableValues;
  signals: SignalStore;
  silences: Silences;
  log: NotificationLog;
  receivers: Map<string, RecordingIntegration>;
  /** Advances the clock and runs one evaluation-and-routing cycle, waiting for deliveries. */
  step(millis: number): Promise<Notification[]>;
  sentTo(receiver: string): Notification[];
}

export function rig(
  yaml: string,
  options: { log?: NotificationLog; silences?: Silences; state?: AlertStateStore; start?: number; grader?: (values: CurrentValues) => ForecastGrader; delivery?: Delivery; integrations?: (receiver: ReceiverSpec) => Integration[] } = {},
): Rig {
  const clock = { now: options.start ?? T0 };
  const values = new TableValues();
  const signals = new SignalStore();
  const silences = options.silences ?? new Silences();
  const log = options.log ?? new NotificationLog();
  const receivers = new Map<string, RecordingIntegration>();
  const engine = new AlertsEngine({
    file: parseAlertsFile(yaml),
    signals,
    values,
    silences,
    log,
    grader: options.grader?.(values),
    state: options.state,
    delivery: options.delivery ?? new Delivery({ sleep: async () => undefined }),
    clock: () => clock.now,
    integrations: options.integrations ?? ((receiver) => {
      const recorder = receivers.get(receiver.name) ?? new RecordingIntegration();
      receivers.set(receiver.name, recorder);
      return [recorder];
    }),
  });
  return {
    clock,
    engine,
    values,
    signals,
    silences,
    log,
    receivers,
    async step(millis) {
      clock.now += millis;
      const out = await engine.cycle(clock.now);
      await engine.idle();
      return out;
    },
    sentTo: (receiver) => receivers.get(receiver)?.sent ?? [],
  };
}

/** A redis-server of a test file's own, with a client; `stop()` ends both and removes its directory. */
export interface PrivateRedis {
  readonly redis: Redis;
  readonly url: string;
  stop(): Promise<void>;
}

export async function startPrivateRedis(prefix: string): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const server = await RedisServer.start({ dir, appendOnly: false });
  const redis = new Redis(server.url);
  return {
    redis,
    url: server.url,
    stop: async () => {
      redis.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
