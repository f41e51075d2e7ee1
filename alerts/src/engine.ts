import { silentLogger, type Logger } from '@sloth/core';
import type { Alert, AlertSink } from './alert.js';
import type { AlertStateStore } from './alert-state-store.js';
import type { AlertsFile, CompiledRule } from './alerts-file.js';
import type { Delivery, DeliveryOutcome, Integration } from './delivery.js';
import { Dispatcher, type Notification } from './dispatcher.js';
import { RuleEvaluator, type CurrentValues } from './evaluator.js';
import { ForecastGrader } from './forecast-grader.js';
import { AlertmanagerIntake, type AlertmanagerWebhook } from './intake.js';
import { fingerprint, type AlertLabels } from './labels.js';
import { RuleLifecycle, type Evaluation } from './lifecycle.js';
import type { NotificationLog } from './notification-log.js';
import type { ReceiverSpec } from './rules-schema.js';
import type { SignalStore } from './signals.js';
import type { Silences } from './silences.js';

/** An alert as `sloth alerts list` and the API show it. */
export interface AlertView {
  fingerprint: string | undefined;
  labels: AlertLabels;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'resolved';
  silencedBy: string | undefined;
  inhibitedBy: string | undefined;
  flapping: boolean;
  startsAtMillis: number;
  endsAtMillis: number | undefined;
  value: number | undefined;
  source: 'rule' | 'alertmanager';
}

export interface EngineOptions {
  file: AlertsFile;
  signals: SignalStore;
  values?: CurrentValues | undefined;
  silences: Silences;
  log: NotificationLog;
  delivery: Delivery;
  /** The integrations of a receiver (built once per alerts file). */
  integrations: (receiver: ReceiverSpec) => Integration[];
  clock: () => number;
  logger?: Logger;
  /** Grades forecast rules; one is made without Redis when absent. */
  grader?: ForecastGrader | undefined;
  /** Keeps the active alerts across restarts (see {@link AlertsEngine.restore}); nothing is kept when absent. */
  state?: AlertStateStore | undefined;
}

/** What {@link AlertsEngine.restore} took back. */
export interface RestoreSummary {
  /** Firing, pending and not yet notified resolved alerts taken back as they were. */
  readonly restored: number;
  /** Firing alerts whose rule is gone or now gives other labels: resolved, as a reload would. */
  readonly resolved: number;
  /** Entries that could not be used (removed from Redis). */
  readonly skipped: number;
}

/**
 * The alerting engine: evaluates rules into alerts (with their life cycle),
 * takes alerts from the Alertmanager intake, routes both, and delivers the
 * notifications. Time comes from the injected clock, so tests step it.
 */
export class AlertsEngine {
  private file: AlertsFile;
  private readonly options: EngineOptions;
  private readonly logger: Logger;
  private lifecycles = new Map<string, RuleLifecycle>();
  private integrationCache = new Map<string, Integration[]>();
  readonly dispatcher: Dispatcher;
  readonly intake: AlertmanagerIntake;
  private readonly evaluator: RuleEvaluator;
  private readonly recentlyResolved = new Map<string, Alert>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly sink: AlertSink;
  readonly grader: ForecastGrader;
  private readonly failing = new Set<string>();
  private firstEvaluationMillis: number | undefined;

  constructor(options: EngineOptions) {
    this.options = options;
    this.file = options.file;
    this.logger = options.logger ?? silentLogger();
    const state = options.state;
    this.dispatcher = new Dispatcher({
      file: options.file,
      silences: options.silences,
      log: options.log,
      clock: options.clock,
      holding: state === undefined ? undefined : { released: (alert) => state.forgetAlert(alert), held: (alert) => state.saveAlert(alert) },
    });
    this.grader = options.grader ?? new ForecastGrader({ values: options.values });
    this.sink = {
      firing: (alert) => {
        this.recentlyResolved.delete(alert.fingerprint);
        const rule = alert.source === 'rule' ? this.lifecycles.get(alert.labels.alertname ?? '')?.rule : undefined;
        if (rule !== undefined) this.grader.predicted(rule, alert);
        state?.saveAlert(alert);
        this.dispatcher.firing(alert);
      },
      changed: (alert) => {
        if (alert.status === 'resolved') this.recentlyResolved.set(alert.fingerprint, alert);
        state?.saveAlert(alert);
        this.dispatcher.changed(alert);
      },
      pending: state === undefined ? undefined : (instance, sinceMillis) => state.savePending(instance, sinceMillis),
    };
    this.intake = new AlertmanagerIntake(this.sink);
    this.evaluator = new RuleEvaluator(options.signals, options.values);
    this.installRules(options.file);
  }

  get alertsFile(): AlertsFile {
    return this.file;
  }

  /** Swaps in new rules and routes. Alerts of unchanged rules keep their state; alerts of removed or changed rules resolve. */
  reload(file: AlertsFile): void {
    this.file = file;
    this.installRules(file);
    this.dispatcher.reload(file);
  }

  private installRules(file: AlertsFile): void {
    const next = new Map<string, RuleLifecycle>();
    for (const rule of file.rules) {
      const old = this.lifecycles.get(rule.name);
      next.set(rule.name, old !== undefined && JSON.stringify(old.rule.spec) === JSON.stringify(rule.spec) ? old : new RuleLifecycle(rule, this.sink));
    }
    const now = this.options.clock();
    for (const [name, old] of this.lifecycles) {
      if (next.get(name) !== old) old.resolveAll(now);
    }
    this.lifecycles = next;
    this.integrationCache = new Map();
  }

  /**
   * Takes back what the state store kept before a restart; call it once, before the first evaluation.
   * Pending and firing label sets return to their rules with their start times (the notification log
   * already knows what was notified, so nothing is sent again before repeat_interval); the first
   * evaluations then resolve those no longer active, through routing as a live resolution. Resolutions
   * not flushed before the stop are flushed. Agents down come back as down until their `agent_up`.
   * Anomaly and forecast label sets, rebuilt from streams, are held until their rule's window passed
   * without them. Entries that cannot be used are removed; one warning says so.
   */
  async restore(nowMillis: number): Promise<RestoreSummary> {
    const state = this.options.state;
    if (state === undefined) return { restored: 0, resolved: 0, skipped: 0 };
    const loaded = await state.load();
    let restored = 0;
    let resolved = 0;
    const gone = new Set<string>();
    for (const saved of loaded.pending) {
      const lifecycle = this.lifecycles.get(saved.rule);
      const ref = { rule: saved.rule, key: saved.key, sourceLabels: saved.sourceLabels };
      if (lifecycle === undefined || !lifecycle.restore({ key: saved.key, sourceLabels: saved.sourceLabels, activeSinceMillis: saved.activeSinceMillis, alert: undefined }, this.holdUntilMillis(lifecycle.rule, nowMillis))) {
        state.savePending(ref, undefined);
        continue;
      }
      this.agentStillDown(lifecycle.rule, saved.key, saved.activeSinceMillis);
      restored += 1;
    }
    for (const alert of loaded.alerts) {
      const ref = alert.instance;
      if (alert.source === 'alertmanager') {
        this.intake.restore(alert, nowMillis);
      } else if (alert.status === 'firing' && ref !== undefined) {
        const lifecycle = this.lifecycles.get(ref.rule);
        const same = lifecycle !== undefined && fingerprint(lifecycle.labelsFor(ref.sourceLabels)) === alert.fingerprint;
        if (same && lifecycle.restore({ key: ref.key, sourceLabels: ref.sourceLabels, activeSinceMillis: alert.startsAtMillis, alert }, this.holdUntilMillis(lifecycle.rule, nowMillis))) {
          this.agentStillDown(lifecycle.rule, ref.key, alert.startsAtMillis);
          this.grader.predicted(lifecycle.rule, alert);
        } else {
          // The rule was removed or now gives other labels: its alert resolves, as at a live reload.
          alert.status = 'resolved';
          alert.endsAtMillis = nowMillis;
          alert.updatedAtMillis = nowMillis;
          state.saveAlert(alert);
          gone.add(ref.rule);
          resolved += 1;
          restored -= 1;
        }
      }
      if (alert.status === 'resolved') this.recentlyResolved.set(alert.fingerprint, alert);
      this.dispatcher.restore(alert, nowMillis);
      restored += 1;
    }
    if (loaded.problems.length > 0 || gone.size > 0) {
      this.logger.warn(
        { skipped: loaded.problems.length, problems: loaded.problems.slice(0, 3), resolvedRules: [...gone].slice(0, 5), resolved },
        'alerts state kept in Redis was partly unusable: unusable entries removed; alerts of rules removed or changed since resolve',
      );
    }
    if (restored > 0) this.logger.info({ restored }, 'alerts taken back from before the restart');
    return { restored, resolved, skipped: loaded.problems.length };
  }

  /** Label sets rebuilt from streams (anomalies, forecasts) are not reported until analytics says something again. */
  private holdUntilMillis(rule: CompiledRule, nowMillis: number): number {
    return rule.spec.type === 'anomaly' || rule.spec.type === 'forecast' ? nowMillis + Math.max(rule.windowMillis, this.file.evaluationIntervalMillis) : 0;
  }

  /** The `agent_down` event is behind the stream cursor: the agent is down until its `agent_up` arrives. */
  private agentStillDown(rule: CompiledRule, agentId: string, sinceMillis: number): void {
    if (rule.spec.type === 'absence' && rule.spec.agent_down && !this.options.signals.downAgents.has(agentId)) this.options.signals.downAgents.set(agentId, sinceMillis);
  }

  /** Evaluates every rule once. */
  async evaluate(nowMillis: number): Promise<void> {
    this.firstEvaluationMillis ??= nowMillis;
    const startedMillis = this.firstEvaluationMillis;
    await Promise.all(
      [...this.lifecycles.values()].map(async (lifecycle) => {
        let evaluation: Evaluation;
        try {
          evaluation = await this.evaluator.evaluate(lifecycle.rule, nowMillis, (key) => lifecycle.stateOf(key));
        } catch (error) {
          evaluation = { kind: 'error', message: (error as Error).message };
        }
        // Right after start, sources have had no time to report: no data then is not news.
        if (evaluation.kind === 'nodata' && nowMillis - startedMillis < Math.max(lifecycle.rule.windowMillis, this.file.evaluationIntervalMillis)) return;
        // Logged when a rule starts and stops failing, not at every evaluation (the SlothRuleError alert carries it meanwhile).
        const name = lifecycle.rule.name;
        if (evaluation.kind === 'error' && !this.failing.has(name)) {
          this.failing.add(name);
          this.logger.warn({ rule: name, problem: evaluation.message }, 'rule evaluation failed; logged again only when it recovers');
        } else if (evaluation.kind !== 'error' && this.failing.delete(name)) {
          this.logger.info({ rule: name }, 'rule evaluation recovered');
        }
        lifecycle.apply(evaluation, nowMillis);
      }),
    );
    try {
      await this.grader.grade(this.file.rules, nowMillis);
    } catch (error) {
      this.logger.warn({ err: error }, 'grading forecast rules failed; trying again next evaluation');
    }
    const maxResolveAfter = Math.max(3_600_000, ...this.file.rules.map((r) => (r.spec.type === 'anomaly' ? r.windowMillis : 0)));
    this.options.signals.prune(nowMillis, maxResolveAfter);
    this.intake.expire(nowMillis);
    for (const [fp, alert] of this.recentlyResolved) if (nowMillis - (alert.endsAtMillis ?? nowMillis) > this.file.resolvedRetentionMillis) this.recentlyResolved.delete(fp);
  }

  /** Flushes due groups and starts delivering their notifications; returns them. */
  route(nowMillis: number): Notification[] {
    const notifications = this.dispatcher.flush(nowMillis);
    for (const n of notifications) this.track(this.deliver(n));
    return notifications;
  }

  /** One evaluation-and-routing cycle. */
  async cycle(nowMillis: number): Promise<Notification[]> {
    await this.evaluate(nowMillis);
    return this.route(nowMillis);
  }

  ingestAlertmanager(payload: AlertmanagerWebhook, nowMillis: number): { firing: number; resolved: number } {
    return this.intake.ingest(payload, nowMillis);
  }

  /** Waits until every started delivery has finished. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error: unknown) => this.logger.error({ err: error }, 'delivering a notification failed'));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  private async deliver(notification: Notification): Promise<DeliveryOutcome[]> {
    const sentBefore = this.dispatcher.sentBefore(notification);
    const integrations = this.integrationsOf(notification.receiver).filter((i) => !sentBefore.has(i.name));
    let outcomes: DeliveryOutcome[] = [];
    try {
      outcomes = await this.options.delivery.deliver(notification, integrations);
    } finally {
      // Sent only when every integration took it (a throw is a dead letter not even recorded): else the
      // group's next flush, a group_interval on, sends it again to those that did not.
      const sent = outcomes.length === integrations.length && outcomes.every((o) => o.outcome === 'sent' || o.outcome === 'skipped');
      await this.dispatcher.delivered(notification, sent, outcomes.filter((o) => o.outcome === 'sent').map((o) => o.integration));
    }
    outcomes.push(...[...sentBefore].map((integration): DeliveryOutcome => ({ integration, outcome: 'skipped', attempts: 0, reason: 'sent at the previous try' })));
    const outcome = (kind: DeliveryOutcome['outcome']): boolean => outcomes.some((o) => o.outcome === kind);
    await this.options.log.appendHistory({
      atMillis: notification.atMillis,
      receiver: notification.receiver,
      groupKey: notification.groupKey,
      groupLabels: notification.groupLabels,
      firing: notification.firing.map((a) => a.labels.alertname ?? a.fingerprint),
      resolved: notification.resolved.map((a) => a.labels.alertname ?? a.fingerprint),
      outcome: outcome('dead-letter') ? 'dead-letter' : outcome('aborted') ? 'aborted' : outcome('sent') ? 'sent' : 'skipped',
      detail: outcomes.map((o) => `${o.integration}: ${o.outcome}${o.reason === undefined ? '' : ` (${o.reason})`}`).join('; ') || 'receiver has no integrations',
    });
    return outcomes;
  }

  private integrationsOf(receiver: string): Integration[] {
    let list = this.integrationCache.get(receiver);
    if (list === undefined) {
      const spec = this.file.receivers.get(receiver);
      list = spec === undefined ? [] : this.options.integrations(spec);
      this.integrationCache.set(receiver, list);
    }
    return list;
  }

  /** Pending, firing and recently resolved alerts with their mute state. */
  list(nowMillis: number): AlertView[] {
    const views: AlertView[] = [];
    const seen = new Set<string>();
    const view = (alert: Alert): AlertView => {
      const mute = this.dispatcher.mutes(alert, nowMillis);
      return { fingerprint: alert.fingerprint, labels: alert.labels, annotations: alert.annotations, state: alert.status, silencedBy: mute.silencedBy, inhibitedBy: mute.inhibitedBy, flapping: alert.flapping, startsAtMillis: alert.startsAtMillis, endsAtMillis: alert.endsAtMillis, value: alert.value, source: alert.source };
    };
    for (const alert of this.dispatcher.allAlerts()) {
      seen.add(alert.fingerprint);
      views.push(view(alert));
    }
    for (const alert of this.recentlyResolved.values()) if (!seen.has(alert.fingerprint)) views.push(view(alert));
    for (const lifecycle of this.lifecycles.values()) {
      for (const i of lifecycle.instancesInState()) {
        if (i.state !== 'pending') continue;
        views.push({ fingerprint: undefined, labels: i.labels, annotations: {}, state: 'pending', silencedBy: undefined, inhibitedBy: undefined, flapping: i.flapping, startsAtMillis: i.activeSinceMillis, endsAtMillis: undefined, value: i.value, source: 'rule' });
      }
    }
    return views;
  }

  /** Applies an evaluation directly (benchmarks and tests of the life cycle without a source). */
  applyEvaluation(ruleName: string, evaluation: Evaluation, nowMillis: number): void {
    const lifecycle = this.lifecycles.get(ruleName);
    if (lifecycle === undefined) throw new Error(`no rule named ${ruleName}`);
    lifecycle.apply(evaluation, nowMillis);
  }
}
