import { createHash } from 'node:crypto';
import type { Alert } from '../alert.js';
import type { Integration } from '../delivery.js';
import type { Notification } from '../dispatcher.js';
import { post, type DeliveryResult } from './result.js';
import { signatureHeaders } from './signing.js';

/** An alert in Alertmanager's webhook shape (version 4), which many receivers already parse. */
export function webhookAlert(alert: Alert): Record<string, unknown> {
  return {
    status: alert.status,
    labels: alert.labels,
    annotations: alert.annotations,
    startsAt: new Date(alert.startsAtMillis).toISOString(),
    endsAt: alert.endsAtMillis === undefined ? '0001-01-01T00:00:00Z' : new Date(alert.endsAtMillis).toISOString(),
    generatorURL: alert.generatorUrl ?? '',
    fingerprint: alert.fingerprint,
    value: alert.value ?? null,
    expectedRange: alert.expectedLow === undefined && alert.expectedHigh === undefined ? null : [alert.expectedLow ?? null, alert.expectedHigh ?? null],
    flapping: alert.flapping,
  };
}

export function webhookBody(notification: Notification, externalUrl: string): string {
  const alerts = [...notification.firing, ...notification.resolved];
  const common = (pick: (a: Alert) => Readonly<Record<string, string>>): Record<string, string> => {
    const first = alerts[0] === undefined ? {} : pick(alerts[0]);
    return Object.fromEntries(Object.entries(first).filter(([k, v]) => alerts.every((a) => pick(a)[k] === v)));
  };
  return JSON.stringify({
    version: '4',
    groupKey: notification.groupKey,
    truncatedAlerts: 0,
    status: notification.firing.length > 0 ? 'firing' : 'resolved',
    receiver: notification.receiver,
    groupLabels: notification.groupLabels,
    commonLabels: common((a) => a.labels),
    commonAnnotations: common((a) => a.annotations),
    externalURL: externalUrl,
    alerts: alerts.map(webhookAlert),
  });
}

/** A generic webhook, signed the Standard Webhooks way with every configured secret. */
export class WebhookIntegration implements Integration {
  readonly name: string;
  readonly sendResolved: boolean;
  readonly maxAttempts: number | undefined;
  private readonly url: string;
  private readonly secrets: readonly string[];
  private readonly externalUrl: string;
  private readonly clock: () => number;

  constructor(name: string, settings: { url: string; secrets: readonly string[]; sendResolved: boolean; maxAttempts?: number | undefined }, options: { externalUrl: string; clock?: () => number }) {
    this.name = name;
    this.url = settings.url;
    this.secrets = settings.secrets;
    this.sendResolved = settings.sendResolved;
    this.maxAttempts = settings.maxAttempts;
    this.externalUrl = options.externalUrl;
    this.clock = options.clock ?? Date.now;
  }

  async send(notification: Notification, signal?: AbortSignal): Promise<DeliveryResult> {
    const body = webhookBody(notification, this.externalUrl);
    const headers = { 'content-type': 'application/json', ...signatureHeaders(this.secrets, body, this.clock(), webhookId(notification)) };
    return (await post(this.url, body, headers, { signal })).result;
  }
}

/**
 * The `webhook-id` of a notification: the same on every retry of it (a fresh id per attempt would defeat
 * receivers' de-duplication), different for every other notification, since it hashes all of receiver,
 * group key and time (groups flushed in one tick share the time, and group keys share long tails).
 */
export function webhookId(notification: Pick<Notification, 'receiver' | 'groupKey' | 'atMillis'>): string {
  const digest = createHash('sha256').update(`${notification.receiver}\u0000${notification.groupKey}\u0000${notification.atMillis}`).digest('base64url');
  return `msg_${digest.slice(0, 32)}`;
}
