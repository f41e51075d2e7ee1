import type { AlertNotificationRecord, AlertsCollected } from './data.js';
import { quantile } from './stats.js';

/**
 * Alert history rebuilt from the alerts service's notification log. Pure.
 *
 * A notification carries the alert names of one group (one receiver): all
 * that fire now, and those resolved since the group's last notification. So
 * per group, an alert fired when a notification lists one more of its name
 * than were still firing, and resolved when one lists it as resolved. Times
 * are notification times (after `group_wait` / `group_interval`), not rule
 * evaluation times. An alert routed to several receivers with the same
 * group labels is counted once, from the first receiver (by name); routes
 * that group it by different labels count it once each.
 */

/** One firing of one alert, from the notification that first carried it to the one that resolved it. */
export interface AlertOccurrence {
  readonly rule: string;
  /** The group's labels other than `alertname` (`agent=web-1`), '' when grouped by name only. */
  readonly group: string;
  readonly receiver: string;
  /** Null: it fired before the oldest notification the service still keeps. */
  readonly firedAtMillis: number | null;
  /** Null: still firing at the newest notification. */
  readonly resolvedAtMillis: number | null;
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** `agent=web-1, severity=page`: a group's labels without its alert name, sorted. */
export function groupText(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .filter((k) => k !== 'alertname')
    .sort(compareText)
    .map((k) => `${k}=${labels[k] ?? ''}`)
    .join(', ');
}

function counts(names: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const n of names) out.set(n, (out.get(n) ?? 0) + 1);
  return out;
}

/** Alert occurrences in firing order (notifications oldest first, as collected). */
export function alertOccurrences(notifications: readonly AlertNotificationRecord[], truncated: boolean): AlertOccurrence[] {
  const streamOf = (n: AlertNotificationRecord): string => `${n.receiver}\u0000${n.groupKey}`;
  // Which stream speaks for each alert identity (rule + group labels): the smallest receiver, then group key.
  const owner = new Map<string, string>();
  for (const n of notifications) {
    const stream = streamOf(n);
    const group = groupText(n.groupLabels);
    for (const rule of [...n.firing, ...n.resolved]) {
      const identity = `${rule}\u0000${group}`;
      const known = owner.get(identity);
      if (known === undefined || stream < known) owner.set(identity, stream);
    }
  }
  const open = new Map<string, Array<{ rule: string; group: string; receiver: string; firedAtMillis: number | null }>>();
  const done: AlertOccurrence[] = [];
  const seen = new Set<string>();
  for (const n of notifications) {
    const stream = streamOf(n);
    // In a log cut at its length limit, a group's first notification may repeat alerts that fired before it.
    const firstOfCutStream = truncated && !seen.has(stream);
    seen.add(stream);
    const group = groupText(n.groupLabels);
    const owns = (rule: string): boolean => owner.get(`${rule}\u0000${group}`) === stream;
    const openOf = (rule: string): Array<{ rule: string; group: string; receiver: string; firedAtMillis: number | null }> => {
      const key = `${stream}\u0000${rule}`;
      let list = open.get(key);
      if (list === undefined) open.set(key, (list = []));
      return list;
    };
    for (const [rule, count] of counts(n.resolved)) {
      if (!owns(rule)) continue;
      const list = openOf(rule);
      for (let i = 0; i < count; i++) {
        const first = list.shift();
        done.push({ rule, group, receiver: n.receiver, firedAtMillis: first?.firedAtMillis ?? null, resolvedAtMillis: n.atMillis });
      }
    }
    for (const [rule, count] of counts(n.firing)) {
      if (!owns(rule)) continue;
      const list = openOf(rule);
      const fired = firstOfCutStream ? null : n.atMillis;
      for (let i = list.length; i < count; i++) list.push({ rule, group, receiver: n.receiver, firedAtMillis: fired });
    }
  }
  for (const list of open.values()) for (const o of list) done.push({ ...o, resolvedAtMillis: null });
  return done.sort(
    (a, b) =>
      (a.firedAtMillis ?? -Infinity) - (b.firedAtMillis ?? -Infinity) ||
      (a.resolvedAtMillis ?? Infinity) - (b.resolvedAtMillis ?? Infinity) ||
      compareText(a.rule, b.rule) ||
      compareText(a.group, b.group) ||
      compareText(a.receiver, b.receiver),
  );
}

export interface PeriodAlerts {
  readonly fired: number;
  readonly resolved: number;
  /** Median and 90th percentile of fired-to-resolved minutes over the alerts resolved in the period (fired time known). */
  readonly medianMinutesToResolve: number | null;
  readonly p90MinutesToResolve: number | null;
  /** Firing → resolved → firing again of the same alert, the resolution and the new firing both in the period. */
  readonly flaps: number;
}

export interface RuleNoise {
  readonly rule: string;
  readonly fired: number;
  readonly resolved: number;
  readonly flaps: number;
  /** Distinct groups (label sets) of the rule that fired. */
  readonly groups: number;
  readonly medianMinutesToResolve: number | null;
}

export interface FlappingAlert {
  readonly rule: string;
  readonly group: string;
  readonly flaps: number;
  readonly fired: number;
}

const round = (value: number, digits = 1): number => Number(value.toFixed(digits));
const inRange = (t: number | null, from: number, to: number): t is number => t !== null && t >= from && t < to;

/** Fired, resolved, time to resolve and flaps of `[fromMillis, toMillis)`. */
export function periodAlerts(occurrences: readonly AlertOccurrence[], fromMillis: number, toMillis: number): PeriodAlerts & { readonly byRule: RuleNoise[]; readonly flapping: FlappingAlert[] } {
  const resolveMinutes = (list: readonly AlertOccurrence[]): number[] =>
    list.filter((o) => inRange(o.resolvedAtMillis, fromMillis, toMillis) && o.firedAtMillis !== null).map((o) => ((o.resolvedAtMillis as number) - (o.firedAtMillis as number)) / 60_000);
  const flapsOf = new Map<string, number>();
  const byIdentity = new Map<string, AlertOccurrence[]>();
  for (const o of occurrences) {
    const key = `${o.rule}\u0000${o.group}`;
    byIdentity.set(key, [...(byIdentity.get(key) ?? []), o]);
  }
  for (const [key, list] of byIdentity) {
    let flaps = 0;
    for (const o of list) {
      if (!inRange(o.firedAtMillis, fromMillis, toMillis)) continue;
      const fired = o.firedAtMillis;
      if (list.some((p) => p !== o && inRange(p.resolvedAtMillis, fromMillis, toMillis) && p.resolvedAtMillis <= fired)) flaps += 1;
    }
    if (flaps > 0) flapsOf.set(key, flaps);
  }
  const median = (values: number[]): number | null => {
    const q = quantile(values, 0.5);
    return q === null ? null : round(q);
  };
  const rules = [...new Set(occurrences.map((o) => o.rule))].sort(compareText);
  const byRule: RuleNoise[] = rules
    .map((rule) => {
      const own = occurrences.filter((o) => o.rule === rule);
      const fired = own.filter((o) => inRange(o.firedAtMillis, fromMillis, toMillis));
      return {
        rule,
        fired: fired.length,
        resolved: own.filter((o) => inRange(o.resolvedAtMillis, fromMillis, toMillis)).length,
        flaps: [...flapsOf].filter(([key]) => key.startsWith(`${rule}\u0000`)).reduce((n, [, f]) => n + f, 0),
        groups: new Set(fired.map((o) => o.group)).size,
        medianMinutesToResolve: median(resolveMinutes(own)),
      };
    })
    .filter((r) => r.fired > 0 || r.resolved > 0)
    .sort((a, b) => b.fired - a.fired || b.flaps - a.flaps || compareText(a.rule, b.rule));
  const flapping: FlappingAlert[] = [...flapsOf]
    .map(([key, flaps]) => {
      const [rule = '', group = ''] = key.split('\u0000');
      return { rule, group, flaps, fired: (byIdentity.get(key) ?? []).filter((o) => inRange(o.firedAtMillis, fromMillis, toMillis)).length };
    })
    .sort((a, b) => b.flaps - a.flaps || compareText(a.rule, b.rule) || compareText(a.group, b.group));
  const minutes = resolveMinutes(occurrences);
  const p90 = quantile(minutes, 0.9);
  return {
    fired: occurrences.filter((o) => inRange(o.firedAtMillis, fromMillis, toMillis)).length,
    resolved: occurrences.filter((o) => inRange(o.resolvedAtMillis, fromMillis, toMillis)).length,
    medianMinutesToResolve: median(minutes),
    p90MinutesToResolve: p90 === null ? null : round(p90),
    flaps: [...flapsOf.values()].reduce((a, b) => a + b, 0),
    byRule,
    flapping,
  };
}

/** The part of the report model about alerts. */
export interface AlertSection {
  readonly available: true;
  /** Set when the service's log (its newest {@link AlertsCollected.notifications}) does not reach back to the previous period: the oldest notification kept. */
  readonly historyFromMillis: number | null;
  readonly current: PeriodAlerts;
  /** Null when the kept history does not reach back to the previous period's start. */
  readonly previous: PeriodAlerts | null;
  /** Top firing rules of the period. */
  readonly topRules: readonly RuleNoise[];
  readonly flapping: readonly FlappingAlert[];
  /** Alerts that fired, resolved or were firing in the period. */
  readonly rows: readonly AlertOccurrence[];
  /** What the service held when the report read it: firing alerts, and those of them its flap detection holds. */
  readonly atRead: { readonly firing: number; readonly pending: number; readonly flapping: number };
}

/** The alerts part of the model for `[fromMillis, toMillis]` against `[previousFromMillis, fromMillis)`. */
export function alertSection(collected: AlertsCollected, previousFromMillis: number, fromMillis: number, toMillis: number, topN = 10): AlertSection {
  const occurrences = alertOccurrences(collected.notifications, collected.truncated);
  const oldest = collected.notifications[0]?.atMillis;
  const historyFromMillis = collected.truncated && oldest !== undefined && oldest > previousFromMillis ? oldest : null;
  const { byRule, flapping, ...current } = periodAlerts(occurrences, fromMillis, toMillis + 1);
  const before = historyFromMillis === null ? periodAlerts(occurrences, previousFromMillis, fromMillis) : null;
  const previous: PeriodAlerts | null =
    before === null ? null : { fired: before.fired, resolved: before.resolved, medianMinutesToResolve: before.medianMinutesToResolve, p90MinutesToResolve: before.p90MinutesToResolve, flaps: before.flaps };
  const rows = occurrences.filter((o) => (o.firedAtMillis ?? -Infinity) <= toMillis && (o.resolvedAtMillis === null || o.resolvedAtMillis >= fromMillis));
  const firing = collected.active.filter((a) => a.state === 'firing');
  return {
    available: true,
    historyFromMillis,
    current,
    previous,
    topRules: byRule.slice(0, topN),
    flapping: flapping.slice(0, topN),
    rows,
    atRead: { firing: firing.length, pending: collected.active.filter((a) => a.state === 'pending').length, flapping: firing.filter((a) => a.flapping).length },
  };
}
