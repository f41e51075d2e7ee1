import type { Alert, AlertSink, RuleInstanceRef } from './alert.js';
import type { CompiledRule } from './alerts-file.js';
import { fingerprint, type AlertLabels } from './labels.js';
import { renderTemplate, type TemplateData } from './template.js';

/** One evaluation result for one label set of a rule. */
export interface Observation {
  /** Stable key of the label set within the rule (series id, agent id, …). */
  readonly key: string;
  /** Labels of the source (series labels); the rule adds its own. Read only when the label set is new. */
  readonly labels: AlertLabels;
  /** Added as the `agent` label. */
  readonly agentId?: string | undefined;
  readonly active: boolean;
  readonly value?: number | undefined;
  readonly expectedLow?: number | undefined;
  readonly expectedHigh?: number | undefined;
}

/** What a rule's source answered this evaluation. */
export type Evaluation =
  | { readonly kind: 'ok'; readonly observations: readonly Observation[] }
  | { readonly kind: 'nodata' }
  | { readonly kind: 'error'; readonly message: string };

export type InstanceState = 'inactive' | 'pending' | 'firing';

interface Instance {
  readonly key: string;
  readonly labels: AlertLabels;
  state: InstanceState;
  activeSinceMillis: number;
  lastActiveMillis: number;
  /** First evaluation with the condition false while firing (keep_firing_for counts from it). */
  clearedSinceMillis: number | undefined;
  /** Condition of the last evaluations, newest in bit 0. */
  history: number;
  evaluations: number;
  flapping: boolean;
  alert: Alert | undefined;
  data: TemplateData;
  /** Evaluation in which the label set was last reported. */
  seenEpoch: number;
  /** Restored after a restart from a source that is rebuilt from streams: not reported until then is not "inactive" yet. */
  holdUntilMillis: number;
  /** Made when the instance first goes pending or fires. */
  ref: RuleInstanceRef | undefined;
}

/** A pending or firing label set kept across a restart (see {@link RuleLifecycle.restore}). */
export interface SavedInstance {
  readonly key: string;
  readonly sourceLabels: AlertLabels;
  readonly activeSinceMillis: number;
  /** The firing alert; undefined for a pending label set. */
  readonly alert: Alert | undefined;
}

const noDataKey = '__nodata__';
const errorKey = '__error__';
const ruleKey = '__rule__';

/**
 * The state machine of one rule's alerts: inactive → pending (condition true,
 * waiting `for`) → firing → resolved (condition false for
 * `keep_firing_for`). Flap detection counts condition changes over the last
 * `window` evaluations: at `changes` the alert is held firing and marked
 * flapping (routing notifies that once) until the condition settles.
 */
export class RuleLifecycle {
  readonly rule: CompiledRule;
  private readonly instances = new Map<string, Instance>();
  private readonly sink: AlertSink;
  private epoch = 0;
  private readonly threshold: number | undefined;

  constructor(rule: CompiledRule, sink: AlertSink) {
    this.rule = rule;
    this.sink = sink;
    this.threshold = 'threshold' in rule.spec ? rule.spec.threshold : undefined;
  }

  /** State of an instance, for hysteresis (a firing alert resolves at the recovery level). */
  stateOf(key: string): InstanceState {
    return this.instances.get(key)?.state ?? 'inactive';
  }

  get size(): number {
    return this.instances.size;
  }

  /** Firing and pending alerts of this rule, for listing. */
  *instancesInState(): Generator<{ labels: AlertLabels; state: InstanceState; activeSinceMillis: number; flapping: boolean; value: number | undefined }> {
    for (const i of this.instances.values()) {
      if (i.state !== 'inactive') yield { labels: this.alertLabels(i.labels), state: i.state, activeSinceMillis: i.activeSinceMillis, flapping: i.flapping, value: i.data.value };
    }
  }

  /** The rule was removed or changed: its firing alerts resolve now, its pending ones are dropped. */
  resolveAll(nowMillis: number): void {
    for (const instance of this.instances.values()) {
      const alert = instance.alert;
      if (instance.state === 'pending') this.sink.pending?.(this.refOf(instance), undefined);
      if (alert === undefined) continue;
      alert.status = 'resolved';
      alert.endsAtMillis = nowMillis;
      alert.updatedAtMillis = nowMillis;
      this.sink.changed(alert);
    }
    this.instances.clear();
  }

  /** The labels the rule gives an alert of these source labels. */
  labelsFor(sourceLabels: AlertLabels): AlertLabels {
    return this.alertLabels(sourceLabels);
  }

  /**
   * Gives back a label set that was pending or firing before a restart, with its start time and (firing)
   * its alert object, so the next evaluation continues it instead of starting over. Until `holdUntilMillis`
   * a label set the source does not report stays as it is (sources rebuilt from streams need time).
   * The alert's labels must be those the rule gives its source labels now (else the rule changed: the
   * caller resolves it). Returns false when the label set is already there.
   */
  restore(saved: SavedInstance, holdUntilMillis: number): boolean {
    if (this.instances.has(saved.key)) return false;
    const instance = this.add(saved.key, saved.sourceLabels);
    instance.state = saved.alert === undefined ? 'pending' : 'firing';
    instance.activeSinceMillis = saved.activeSinceMillis;
    instance.lastActiveMillis = saved.alert?.updatedAtMillis ?? saved.activeSinceMillis;
    instance.history = 1;
    instance.evaluations = 1;
    instance.holdUntilMillis = holdUntilMillis;
    instance.ref = saved.alert?.instance ?? { rule: this.rule.name, key: saved.key, sourceLabels: saved.sourceLabels };
    const alert = saved.alert;
    if (alert !== undefined) {
      instance.alert = alert;
      instance.flapping = alert.flapping;
      instance.data.value = alert.value;
      instance.data.expectedLow = alert.expectedLow;
      instance.data.expectedHigh = alert.expectedHigh;
      instance.data.threshold = this.threshold;
    }
    return true;
  }

  apply(evaluation: Evaluation, nowMillis: number): void {
    const mode = evaluation.kind === 'nodata' ? this.rule.spec.no_data : evaluation.kind === 'error' ? this.rule.spec.on_error : undefined;
    if (evaluation.kind === 'ok') {
      const epoch = (this.epoch += 1);
      for (const o of evaluation.observations) {
        const instance = this.instances.get(o.key) ?? this.add(o.key, o.agentId === undefined || o.agentId === '' ? o.labels : { ...o.labels, agent: o.agentId });
        instance.seenEpoch = epoch;
        instance.holdUntilMillis = 0;
        this.step(instance, o.active, nowMillis, o);
      }
      // A label set that is no longer reported is no longer active (as in Prometheus). Deleting while iterating a Map is safe.
      for (const instance of this.instances.values()) if (instance.seenEpoch !== epoch && instance.holdUntilMillis <= nowMillis) this.step(instance, false, nowMillis);
      return;
    }
    const synthetic = evaluation.kind === 'nodata' ? noDataKey : errorKey;
    if (mode === 'keep_state') return;
    if (mode === 'nodata' || mode === 'error') {
      const alertname = mode === 'nodata' ? 'SlothNoData' : 'SlothRuleError';
      this.step(this.instance(synthetic, { alertname, rule: this.rule.name }), true, nowMillis, undefined, evaluation.kind === 'error' ? evaluation.message : undefined);
      return;
    }
    const active = mode === 'alerting';
    const real = [...this.instances.values()].filter((i) => i.key !== noDataKey && i.key !== errorKey);
    if (active && real.length === 0) real.push(this.instance(ruleKey, {}));
    for (const instance of real) this.step(instance, active, nowMillis);
  }

  private instance(key: string, labels: AlertLabels): Instance {
    return this.instances.get(key) ?? this.add(key, labels);
  }

  /** A new label set (the caller knows it is not there: one Map lookup per observation, not two). */
  private add(key: string, labels: AlertLabels): Instance {
    const instance: Instance = { key, labels, state: 'inactive', activeSinceMillis: 0, lastActiveMillis: 0, clearedSinceMillis: undefined, history: 0, evaluations: 0, flapping: false, alert: undefined, data: { labels, value: undefined, expectedLow: undefined, expectedHigh: undefined, threshold: undefined }, seenEpoch: 0, holdUntilMillis: 0, ref: undefined };
    this.instances.set(key, instance);
    return instance;
  }

  private refOf(instance: Instance): RuleInstanceRef {
    return (instance.ref ??= { rule: this.rule.name, key: instance.key, sourceLabels: instance.labels });
  }

  private alertLabels(source: AlertLabels): AlertLabels {
    if (source.alertname !== undefined) return { severity: this.rule.spec.severity, ...this.rule.spec.labels, ...source };
    return { ...source, severity: this.rule.spec.severity, ...this.rule.spec.labels, alertname: this.rule.name };
  }

  private step(instance: Instance, active: boolean, nowMillis: number, observation?: Observation, errorMessage?: string): void {
    instance.history = ((instance.history << 1) | (active ? 1 : 0)) & 0x3fffffff;
    instance.evaluations += 1;
    if (observation !== undefined) {
      // Updated in place: a new object per alert per evaluation was 100,000 short-lived objects a cycle.
      const data = instance.data;
      data.value = observation.value;
      data.expectedLow = observation.expectedLow;
      data.expectedHigh = observation.expectedHigh;
      data.threshold = this.threshold;
    }
    if (active) {
      instance.lastActiveMillis = nowMillis;
      instance.clearedSinceMillis = undefined;
    } else if (instance.state === 'firing') {
      instance.clearedSinceMillis ??= nowMillis;
    }

    const flap = this.rule.spec.flapping;
    if (flap !== false && instance.evaluations >= 2) {
      const changes = countChanges(instance.history, Math.min(flap.window, instance.evaluations));
      if (!instance.flapping && changes >= flap.changes) {
        instance.flapping = true;
        if (instance.alert === undefined) this.fire(instance, nowMillis, errorMessage);
        const alert = instance.alert as Alert;
        alert.flapping = true;
        alert.annotations.flapping = `${changes} state changes in the last ${Math.min(flap.window, instance.evaluations)} evaluations`;
        this.sink.changed(alert);
        return;
      }
      if (instance.flapping) {
        if (changes > 1) return;
        instance.flapping = false;
        if (instance.alert !== undefined) {
          instance.alert.flapping = false;
          delete instance.alert.annotations.flapping;
          this.sink.changed(instance.alert);
        }
      }
    }

    if (active) {
      if (instance.state === 'inactive') {
        instance.state = 'pending';
        instance.activeSinceMillis = nowMillis;
        // Only a wait worth keeping across a restart is reported (for: 0 fires in this same step).
        if (this.rule.forMillis > 0) this.sink.pending?.(this.refOf(instance), nowMillis);
      }
      if (instance.state === 'pending' && nowMillis - instance.activeSinceMillis >= this.rule.forMillis) this.fire(instance, nowMillis, errorMessage);
      else if (instance.state === 'firing' && instance.alert !== undefined) this.refresh(instance, nowMillis, errorMessage);
    } else if (instance.state === 'pending') {
      instance.state = 'inactive';
      this.sink.pending?.(this.refOf(instance), undefined);
    } else if (instance.state === 'firing' && nowMillis - (instance.clearedSinceMillis ?? nowMillis) >= this.rule.keepFiringForMillis) {
      const alert = instance.alert;
      instance.state = 'inactive';
      instance.alert = undefined;
      if (alert !== undefined) {
        alert.status = 'resolved';
        alert.endsAtMillis = nowMillis;
        alert.updatedAtMillis = nowMillis;
        this.sink.changed(alert);
      }
    }
    // Forget a quiet label set once its flap history has no changes left in it.
    if (instance.state === 'inactive' && (flap === false || countChanges(instance.history, Math.min(flap.window, instance.evaluations)) === 0)) this.instances.delete(instance.key);
  }

  private fire(instance: Instance, nowMillis: number, errorMessage?: string): void {
    instance.state = 'firing';
    if (instance.activeSinceMillis === 0) instance.activeSinceMillis = nowMillis;
    const labels = this.alertLabels(instance.labels);
    const alert: Alert = {
      fingerprint: fingerprint(labels),
      labels,
      annotations: {},
      status: 'firing',
      startsAtMillis: nowMillis,
      endsAtMillis: undefined,
      updatedAtMillis: nowMillis,
      value: undefined,
      expectedLow: undefined,
      expectedHigh: undefined,
      flapping: false,
      source: 'rule',
      generatorUrl: undefined,
      instance: this.refOf(instance),
    };
    instance.alert = alert;
    this.refresh(instance, nowMillis, errorMessage);
    this.sink.firing(alert);
  }

  private refresh(instance: Instance, nowMillis: number, errorMessage?: string): void {
    const alert = instance.alert as Alert;
    const data = instance.data;
    if (alert.value === data.value && alert.updatedAtMillis !== nowMillis && errorMessage === undefined) {
      alert.updatedAtMillis = nowMillis;
      return;
    }
    alert.value = data.value;
    alert.expectedLow = data.expectedLow;
    alert.expectedHigh = data.expectedHigh;
    alert.updatedAtMillis = nowMillis;
    const spec = this.rule.spec;
    const view = { ...data, labels: alert.labels };
    const annotations: Record<string, string> = {};
    if (spec.summary !== undefined) annotations.summary = renderTemplate(spec.summary, view);
    if (spec.description !== undefined) annotations.description = renderTemplate(spec.description, view);
    if (spec.runbook_url !== undefined) annotations.runbook_url = spec.runbook_url;
    if (instance.key === noDataKey) annotations.summary = `rule ${this.rule.name}: its source has no data`;
    if (errorMessage !== undefined) annotations.summary = `rule ${this.rule.name} cannot be evaluated: ${errorMessage}`;
    if (alert.annotations.flapping !== undefined) annotations.flapping = alert.annotations.flapping;
    alert.annotations = annotations;
  }
}

/** Condition changes between consecutive evaluations among the newest `window`. */
export function countChanges(history: number, window: number): number {
  let diff = (history ^ (history >>> 1)) & ((1 << Math.max(0, window - 1)) - 1);
  let count = 0;
  while (diff !== 0) {
    diff &= diff - 1;
    count += 1;
  }
  return count;
}
