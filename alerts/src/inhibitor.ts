import type { Alert } from './alert.js';
import type { InhibitRule } from './alerts-file.js';
import { matchesAll } from './labels.js';

/**
 * Inhibition as in Alertmanager: a firing alert matching a rule's source
 * matchers mutes alerts matching its target matchers that carry the same
 * values of the `equal` labels. Indexed once per cycle, so checking an alert
 * costs one map lookup per rule.
 */
export class Inhibitor {
  private readonly rules: readonly InhibitRule[];
  private index: Array<Map<string, Set<string>>> = [];

  constructor(rules: readonly InhibitRule[]) {
    this.rules = rules;
  }

  /** Indexes the firing source alerts. */
  prepare(alerts: Iterable<Alert>): void {
    this.index = this.rules.map(() => new Map<string, Set<string>>());
    if (this.rules.length === 0) return;
    for (const alert of alerts) {
      if (alert.status !== 'firing') continue;
      this.rules.forEach((rule, i) => {
        if (!matchesAll(rule.source, alert.labels)) return;
        const key = equalKey(rule, alert);
        const map = this.index[i] as Map<string, Set<string>>;
        let set = map.get(key);
        if (set === undefined) map.set(key, (set = new Set()));
        set.add(alert.fingerprint);
      });
    }
  }

  /** A description of the inhibiting rule, or undefined. An alert never inhibits itself. */
  mutedBy(alert: Alert): string | undefined {
    for (let i = 0; i < this.rules.length; i += 1) {
      const rule = this.rules[i] as InhibitRule;
      if (!matchesAll(rule.target, alert.labels)) continue;
      const sources = this.index[i]?.get(equalKey(rule, alert));
      if (sources === undefined) continue;
      if (sources.size > 1 || !sources.has(alert.fingerprint)) return `inhibit_rules[${i}]`;
    }
    return undefined;
  }
}

function equalKey(rule: InhibitRule, alert: Alert): string {
  let key = '';
  for (const name of rule.equal) key += `${alert.labels[name] ?? ''}\u0000`;
  return key;
}
