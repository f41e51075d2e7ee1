import { z } from 'zod';
import { InputError } from '@sloth/core';
import type { Alert, AlertSink } from './alert.js';
import { fingerprint } from './labels.js';

/** Alertmanager's webhook payload, version 4 (what `webhook_configs` POSTs). */
export const alertmanagerWebhookSchema = z.looseObject({
  version: z.string(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().optional(),
  groupKey: z.string().optional(),
  externalURL: z.string().optional(),
  alerts: z.array(
    z.looseObject({
      status: z.enum(['firing', 'resolved']),
      labels: z.record(z.string(), z.string()),
      annotations: z.record(z.string(), z.string()).default({}),
      startsAt: z.string(),
      endsAt: z.string().optional(),
      generatorURL: z.string().optional(),
      fingerprint: z.string().optional(),
    }),
  ),
});
export type AlertmanagerWebhook = z.infer<typeof alertmanagerWebhookSchema>;

/** External alerts not refreshed for this long are resolved (Alertmanager re-sends firing groups every repeat_interval). */
const staleExternalMillis = 24 * 3_600_000;

/**
 * Alerts arriving from an existing Prometheus/Alertmanager: they join the
 * same routing, silences and receivers (remediation included) as Sloth's own.
 */
export class AlertmanagerIntake {
  private readonly alerts = new Map<string, Alert>();
  private readonly sink: AlertSink;

  constructor(sink: AlertSink) {
    this.sink = sink;
  }

  /** Validates a webhook body; an {@link InputError} names the offending field. */
  static parse(body: unknown): AlertmanagerWebhook {
    const result = alertmanagerWebhookSchema.safeParse(body);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new InputError(`not an Alertmanager webhook (version 4) body: ${issue?.path.join('.') || '(body)'}: ${issue?.message ?? 'invalid'}`, { issues: result.error.issues.slice(0, 5) });
    }
    if (result.data.version !== '4') throw new InputError(`Alertmanager webhook version ${JSON.stringify(result.data.version)} is not supported; Sloth reads version "4"`);
    return result.data;
  }

  /** Applies a webhook; returns how many alerts were firing and resolved in it. */
  ingest(payload: AlertmanagerWebhook, nowMillis: number): { firing: number; resolved: number } {
    let firing = 0;
    let resolved = 0;
    for (const incoming of payload.alerts) {
      const labels = Object.freeze({ ...incoming.labels });
      const fp = fingerprint(labels);
      const known = this.alerts.get(fp);
      const startsAtMillis = parseTime(incoming.startsAt) ?? nowMillis;
      if (incoming.status === 'firing') {
        firing += 1;
        if (known !== undefined && known.status === 'firing') {
          known.annotations = { ...incoming.annotations };
          known.updatedAtMillis = nowMillis;
          continue;
        }
        const alert: Alert = {
          fingerprint: fp,
          labels,
          annotations: { ...incoming.annotations },
          status: 'firing',
          startsAtMillis,
          endsAtMillis: undefined,
          updatedAtMillis: nowMillis,
          value: undefined,
          expectedLow: undefined,
          expectedHigh: undefined,
          flapping: false,
          source: 'alertmanager',
          generatorUrl: incoming.generatorURL,
        };
        this.alerts.set(fp, alert);
        this.sink.firing(alert);
      } else {
        resolved += 1;
        if (known === undefined || known.status === 'resolved') continue;
        known.status = 'resolved';
        known.endsAtMillis = parseTime(incoming.endsAt) ?? nowMillis;
        known.updatedAtMillis = nowMillis;
        this.alerts.delete(fp);
        this.sink.changed(known);
      }
    }
    return { firing, resolved };
  }

  /**
   * A firing external alert kept across a restart: Alertmanager's later resolution ends it as if the role
   * had never stopped. Its refreshes are not kept, so the day without one counts from the restart.
   */
  restore(alert: Alert, nowMillis: number): void {
    if (alert.status !== 'firing' || this.alerts.has(alert.fingerprint)) return;
    alert.updatedAtMillis = Math.max(alert.updatedAtMillis, nowMillis);
    this.alerts.set(alert.fingerprint, alert);
  }

  /** Resolves external alerts nobody refreshed for a day. */
  expire(nowMillis: number): void {
    for (const [fp, alert] of this.alerts) {
      if (nowMillis - alert.updatedAtMillis < staleExternalMillis) continue;
      alert.status = 'resolved';
      alert.endsAtMillis = nowMillis;
      alert.updatedAtMillis = nowMillis;
      this.alerts.delete(fp);
      this.sink.changed(alert);
    }
  }
}

function parseTime(text: string | undefined): number | undefined {
  if (text === undefined || text.startsWith('0001-')) return undefined;
  const millis = Date.parse(text);
  return Number.isNaN(millis) ? undefined : millis;
}
