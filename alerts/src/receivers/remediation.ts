import type { Redis } from 'ioredis';
import { encodeJsonMessage, slothEventSchema, type RedisKeys } from '@sloth/core';
import type { Alert } from '../alert.js';
import type { Integration } from '../delivery.js';
import type { Notification } from '../dispatcher.js';
import type { DeliveryResult } from './result.js';

/** The agent an alert is about: `agent`, `agent_id`, `instance` or `host` label. */
export function alertAgent(alert: Alert): string | undefined {
  for (const key of ['agent', 'agent_id', 'instance', 'host']) {
    const value = alert.labels[key];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/**
 * Feeds the playbook trigger loop: each newly firing alert becomes an `alert`
 * event on `sloth:events` (core's event schema: `type: alert`,
 * `attributes.name`, `attributes.level`), the shape playbooks'
 * `{ alert = { name = … } }` triggers match. Repeats and resolutions do not
 * trigger playbooks again.
 */
export class RemediationIntegration implements Integration {
  readonly name = 'remediation';
  readonly sendResolved = false;
  readonly maxAttempts = 5;
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly alertName: string | undefined;

  constructor(redis: Redis, keys: RedisKeys, alertName?: string) {
    this.redis = redis;
    this.keys = keys;
    this.alertName = alertName;
  }

  async send(notification: Notification): Promise<DeliveryResult> {
    if (notification.newlyFiring.length === 0) return { kind: 'success', detail: 'nothing new' };
    const pipeline = this.redis.multi();
    for (const alert of notification.newlyFiring) {
      const event = slothEventSchema.parse({
        type: 'alert',
        agentId: alertAgent(alert),
        timestampMillis: notification.atMillis,
        attributes: {
          name: this.alertName ?? alert.labels.alertname ?? 'alert',
          level: alert.labels.severity ?? 'warning',
          message: alert.annotations.summary ?? alert.labels.alertname ?? '',
          labels: alert.labels,
          fingerprint: alert.fingerprint,
          value: alert.value,
          source: 'sloth-alerts',
        },
      });
      pipeline.xadd(this.keys.events, 'MAXLEN', '~', 10_000, '*', ...encodeJsonMessage(event));
    }
    try {
      await pipeline.exec();
    } catch (error) {
      return { kind: 'retryable', reason: `Redis: ${(error as Error).message}` };
    }
    return { kind: 'success' };
  }
}
