import type { AlertLabels } from './labels.js';

/** One alert as routing sees it, from a rule or from the Alertmanager intake. */
export interface Alert {
  readonly fingerprint: string;
  readonly labels: AlertLabels;
  annotations: Record<string, string>;
  status: 'firing' | 'resolved';
  startsAtMillis: number;
  endsAtMillis: number | undefined;
  updatedAtMillis: number;
  /** The value that made the rule fire (latest), and the expected range when the source has one. */
  value: number | undefined;
  expectedLow: number | undefined;
  expectedHigh: number | undefined;
  /** Held firing by flap detection. */
  flapping: boolean;
  readonly source: 'rule' | 'alertmanager';
  generatorUrl: string | undefined;
  /** The rule and label set (instance) a rule's alert belongs to: kept across restarts to give the alert back to it. */
  readonly instance?: RuleInstanceRef | undefined;
}

/** Where a rule's alert comes from: the rule, the key of its label set, and the source labels. */
export interface RuleInstanceRef {
  readonly rule: string;
  readonly key: string;
  readonly sourceLabels: AlertLabels;
}

/** Where the rule engine and the intake hand alerts to routing. */
export interface AlertSink {
  /** A new or re-firing alert (a new object each time it starts firing). */
  firing(alert: Alert): void;
  /** The alert object given to {@link firing} changed status to resolved (or changed its flapping flag). */
  changed(alert: Alert): void;
  /** A rule's label set went pending (`sinceMillis`) or stopped being pending without firing (undefined). */
  pending?(instance: RuleInstanceRef, sinceMillis: number | undefined): void;
}
