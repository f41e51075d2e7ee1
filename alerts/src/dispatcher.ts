import type { Alert, AlertSink } from './alert.js';
import type { AlertsFile } from './alerts-file.js';
import { Inhibitor } from './inhibitor.js';
import type { NotificationEntry, NotificationLog } from './notification-log.js';
import { groupKey, groupLabels, matchRoutes, routeMutedAt, type Route } from './routing.js';
import type { Silences } from './silences.js';

/** One message for one receiver about one group. */
export interface Notification {
  readonly receiver: string;
  readonly groupKey: string;
  readonly groupLabels: Readonly<Record<string, string>>;
  readonly route: Route;
  readonly firing: readonly Alert[];
  readonly resolved: readonly Alert[];
  /** Firing alerts the receiver has not been told about yet (remediation triggers only on these). */
  readonly newlyFiring: readonly Alert[];
  readonly atMillis: number;
}

interface Group {
  readonly key: string;
  readonly route: Route;
  readonly labels: Readonly<Record<string, string>>;
  readonly alerts: Map<string, Alert>;
  nextFlushMillis: number;
  inFlight: boolean;
  /** After a delivery some integrations got and others did not: what they got, so its resending skips them. */
  partlySent: { readonly content: string; readonly integrations: ReadonlySet<string> } | undefined;
}

/** Told when routing stops holding a resolved alert (its resolution was flushed or is not to be sent), or holds one again for a resend. */
export interface HoldListener {
  released(alert: Alert): void;
  held(alert: Alert): void;
}

/** Why an alert is not notified right now. */
export interface MuteState {
  silencedBy: string | undefined;
  inhibitedBy: string | undefined;
}

/**
 * Alertmanager's dispatcher: alerts go to aggregation groups per matching
 * route and `group_by` values; a group notifies first after `group_wait`,
 * then at most every `group_interval`, and repeats an unchanged firing set
 * after `repeat_interval`. Silences and inhibition are applied at flush time;
 * the notification log decides whether anything changed.
 */
export class Dispatcher implements AlertSink {
  private file: AlertsFile;
  private readonly silences: Silences;
  private readonly log: NotificationLog;
  private readonly alerts = new Map<string, Alert>();
  private readonly groups = new Map<string, Group>();
  /** The groups an alert was placed in (the objects, not their keys: no second lookup per alert). */
  private readonly alertGroups = new Map<string, Group[]>();
  /** Alerts that were muted at a flush while firing: their resolution may still be sent (`send_resolved_for_muted`). */
  private readonly mutedWhileFiring = new Set<string>();
  private inhibitor: Inhibitor;
  private readonly clock: () => number;
  private readonly holding: HoldListener | undefined;

  constructor(options: { file: AlertsFile; silences: Silences; log: NotificationLog; clock: () => number; holding?: HoldListener | undefined }) {
    this.file = options.file;
    this.silences = options.silences;
    this.log = options.log;
    this.clock = options.clock;
    this.holding = options.holding;
    this.inhibitor = new Inhibitor(options.file.inhibitRules);
  }

  get groupCount(): number {
    return this.groups.size;
  }

  /** New rules: regroup every alert under the new route tree (the notification log prevents repeats). */
  reload(file: AlertsFile): void {
    this.file = file;
    this.inhibitor = new Inhibitor(file.inhibitRules);
    this.groups.clear();
    this.alertGroups.clear();
    for (const alert of this.alerts.values()) this.place(alert, this.clock());
  }

  firing(alert: Alert): void {
    this.place(alert, alert.updatedAtMillis);
  }

  changed(alert: Alert): void {
    if (this.alerts.get(alert.fingerprint) !== alert) this.place(alert, alert.updatedAtMillis);
  }

  /** An alert kept across a restart: its groups form anew and wait group_wait from now; the notification log decides what is news. */
  restore(alert: Alert, nowMillis: number): void {
    this.place(alert, nowMillis);
  }

  /** Alerts currently held for routing (firing, and resolved ones not flushed yet). */
  allAlerts(): IterableIterator<Alert> {
    return this.alerts.values();
  }

  mutes(alert: Alert, nowMillis: number): MuteState {
    return { silencedBy: this.silences.mutedBy(alert.labels, nowMillis), inhibitedBy: this.inhibitor.mutedBy(alert) };
  }

  private place(alert: Alert, atMillis: number): void {
    this.alerts.set(alert.fingerprint, alert);
    let placed = this.alertGroups.get(alert.fingerprint);
    if (placed === undefined) {
      placed = [];
      for (const route of matchRoutes(this.file.route, alert.labels)) {
        const labels = groupLabels(route, alert.labels);
        const key = groupKey(route, labels);
        let group = this.groups.get(key);
        if (group === undefined) {
          group = { key, route, labels, alerts: new Map(), nextFlushMillis: atMillis + route.groupWaitMillis, inFlight: false, partlySent: undefined };
          this.groups.set(key, group);
        }
        placed.push(group);
      }
      this.alertGroups.set(alert.fingerprint, placed);
    }
    for (const group of placed) {
      // A group emptied and collected since: the alert starts a new one under the same key.
      if (this.groups.get(group.key) !== group) {
        this.alertGroups.delete(alert.fingerprint);
        this.place(alert, atMillis);
        return;
      }
      group.alerts.set(alert.fingerprint, alert);
    }
  }

  /** Flushes every group that is due; returns the notifications to deliver. */
  flush(nowMillis: number): Notification[] {
    this.inhibitor.prepare(this.alerts.values());
    const out: Notification[] = [];
    for (const group of this.groups.values()) {
      if (group.nextFlushMillis > nowMillis || group.inFlight) continue;
      group.nextFlushMillis = nowMillis + group.route.groupIntervalMillis;
      if (routeMutedAt(group.route, this.file.timeIntervals, nowMillis) !== undefined) continue;
      const notification = this.flushGroup(group, nowMillis);
      if (notification !== undefined) {
        group.inFlight = true;
        out.push(notification);
      }
    }
    this.collect();
    return out;
  }

  private flushGroup(group: Group, nowMillis: number): Notification | undefined {
    const receiver = group.route.receiver;
    const entry = this.log.get(receiver, group.key);
    const notified = new Set(entry?.firing ?? []);
    const firing: Alert[] = [];
    const resolved: Alert[] = [];
    const newlyFiring: Alert[] = [];
    for (const alert of group.alerts.values()) {
      const muted = this.silences.mutedBy(alert.labels, nowMillis) !== undefined || this.inhibitor.mutedBy(alert) !== undefined;
      if (alert.status === 'firing') {
        if (muted) {
          this.mutedWhileFiring.add(alert.fingerprint);
          continue;
        }
        firing.push(alert);
        if (!notified.has(alert.fingerprint)) newlyFiring.push(alert);
      } else {
        group.alerts.delete(alert.fingerprint);
        const wasMuted = this.mutedWhileFiring.has(alert.fingerprint) || muted;
        if (notified.has(alert.fingerprint) ? !muted || this.file.sendResolvedForMuted : wasMuted && this.file.sendResolvedForMuted) resolved.push(alert);
      }
    }
    if (!needsUpdate(entry, firing, resolved, group.route.repeatIntervalMillis, nowMillis, notified)) return undefined;
    return { receiver, groupKey: group.key, groupLabels: group.labels, route: group.route, firing, resolved, newlyFiring, atMillis: nowMillis };
  }

  /** The integrations of the receiver that already got exactly this notification (a delivery only some of them took). */
  sentBefore(notification: Notification): ReadonlySet<string> {
    const partly = this.groups.get(notification.groupKey)?.partlySent;
    return partly !== undefined && partly.content === contentOf(notification) ? partly.integrations : new Set();
  }

  /**
   * Delivery finished: the group may flush again. Delivered (`ok`), it is recorded in the notification
   * log. Not delivered (dead-lettered, or cut short by shutdown), nothing is recorded, so the group's next
   * flush, a group_interval on, sends it again as Alertmanager does: its resolved alerts go back into the
   * group for that, and the integrations in `sentTo` are remembered so they are not sent the same twice.
   */
  async delivered(notification: Notification, ok: boolean, sentTo: readonly string[] = []): Promise<void> {
    const group = this.groups.get(notification.groupKey);
    if (group !== undefined) group.inFlight = false;
    if (!ok) {
      if (group !== undefined) this.keepForResend(group, notification, sentTo);
      return;
    }
    if (group !== undefined) group.partlySent = undefined;
    const entry: NotificationEntry = {
      firing: notification.firing.map((a) => a.fingerprint),
      resolved: notification.resolved.map((a) => a.fingerprint),
      flapping: notification.firing.filter((a) => a.flapping).map((a) => a.fingerprint),
      atMillis: notification.atMillis,
    };
    await this.log.record(notification.receiver, notification.groupKey, entry);
  }

  private keepForResend(group: Group, notification: Notification, sentTo: readonly string[]): void {
    for (const alert of notification.resolved) {
      // Firing again since: the newer alert is the news, not this resolution.
      const current = this.alerts.get(alert.fingerprint);
      if ((current === undefined || current === alert) && !group.alerts.has(alert.fingerprint)) group.alerts.set(alert.fingerprint, alert);
      if (current === undefined) {
        // Dropped when the flush took it: held again until the resend, so a restart meanwhile still sends it.
        this.alerts.set(alert.fingerprint, alert);
        const placed = this.alertGroups.get(alert.fingerprint);
        if (placed === undefined) this.alertGroups.set(alert.fingerprint, [group]);
        else if (!placed.includes(group)) placed.push(group);
        this.holding?.held(alert);
      }
    }
    const content = contentOf(notification);
    const before = group.partlySent?.content === content ? group.partlySent.integrations : [];
    group.partlySent = { content, integrations: new Set([...before, ...sentTo]) };
  }

  /** Drops resolved alerts no group holds any more, and empty groups. */
  private collect(): void {
    for (const [key, group] of this.groups) if (group.alerts.size === 0 && !group.inFlight) this.groups.delete(key);
    for (const [fp, alert] of this.alerts) {
      if (alert.status !== 'resolved') continue;
      const placed = this.alertGroups.get(fp) ?? [];
      if (placed.every((g) => g.alerts.get(fp) !== alert)) {
        this.alerts.delete(fp);
        this.alertGroups.delete(fp);
        this.mutedWhileFiring.delete(fp);
        this.holding?.released(alert);
      }
    }
  }

  /** Groups for the API: key, receiver, labels, alert count and next flush. */
  groupSummaries(): Array<{ key: string; receiver: string; labels: Readonly<Record<string, string>>; alerts: number; nextFlushMillis: number }> {
    return [...this.groups.values()].map((g) => ({ key: g.key, receiver: g.route.receiver, labels: g.labels, alerts: g.alerts.size, nextFlushMillis: g.nextFlushMillis }));
  }
}

/** What a notification says: its firing, flapping and resolved alerts (a resend of the same says the same). */
function contentOf(notification: Notification): string {
  const fingerprints = (alerts: readonly Alert[]): string => alerts.map((a) => a.fingerprint).join(',');
  return `${fingerprints(notification.firing)}|${fingerprints(notification.firing.filter((a) => a.flapping))}|${fingerprints(notification.resolved)}`;
}

/** Alertmanager's rule: notify when something new fires, a flap starts, something notified resolves, or the repeat interval passed. */
export function needsUpdate(entry: NotificationEntry | undefined, firing: readonly Alert[], resolved: readonly Alert[], repeatIntervalMillis: number, nowMillis: number, notified?: ReadonlySet<string>): boolean {
  if (resolved.length > 0) return true;
  if (entry === undefined) return firing.length > 0;
  const before = notified ?? new Set(entry.firing);
  let flappingBefore: Set<string> | undefined;
  for (const alert of firing) {
    if (!before.has(alert.fingerprint)) return true;
    if (alert.flapping && !(flappingBefore ??= new Set(entry.flapping)).has(alert.fingerprint)) return true;
  }
  return firing.length > 0 && nowMillis - entry.atMillis >= repeatIntervalMillis;
}
