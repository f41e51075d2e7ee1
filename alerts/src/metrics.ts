import { metricCatalogue, MetricsRegistry } from '@sloth/core';
import { Delivery, type DeliveryOptions, type DeliveryOutcome, type Integration } from './delivery.js';
import type { Notification } from './dispatcher.js';
import type { AlertView } from './engine.js';
import type { RuleScore } from './forecast-grader.js';

/**
 * The alerts role's metrics: alerts pending and firing (counted at scrape
 * time from the engine), notification outcomes, dead letters and the
 * evaluation time, served on its `/metrics` port.
 */
export class AlertsMetrics {
  readonly registry = new MetricsRegistry();
  private readonly notifications = this.registry.counter(metricCatalogue.alertsNotifications);
  private readonly deadLetters = this.registry.counter(metricCatalogue.alertsDeadLetters);
  private readonly evaluationDuration = this.registry.histogram(metricCatalogue.alertsEvaluationDuration);
  private readonly lastEvaluation = this.registry.gauge(metricCatalogue.alertsLastEvaluation);

  /**
   * `activeAlerts` lists the alerts now (the engine's view); resolved ones are not counted.
   * `forecastScores` grades forecast rules (the engine's grader), read at scrape time.
   */
  constructor(activeAlerts: () => readonly AlertView[], forecastScores: () => readonly RuleScore[] = () => []) {
    this.registry.rebuiltGauge(metricCatalogue.alertsActive, (gauge) => {
      for (const alert of activeAlerts()) {
        if (alert.state === 'resolved') continue;
        gauge.inc({ rule: alert.labels.alertname ?? '', severity: alert.labels.severity ?? '', state: alert.state });
      }
    });
    this.registry.rebuiltGauge(metricCatalogue.alertsForecastPredictions, (gauge) => {
      for (const s of forecastScores()) {
        gauge.set({ rule: s.rule, outcome: 'hit' }, s.hits);
        gauge.set({ rule: s.rule, outcome: 'miss' }, s.predictions - s.hits);
        gauge.set({ rule: s.rule, outcome: 'pending' }, s.pending);
      }
    });
    this.registry.rebuiltGauge(metricCatalogue.alertsForecastPrecision, (gauge) => {
      for (const s of forecastScores()) if (s.precision !== null) gauge.set({ rule: s.rule }, s.precision);
    });
    this.registry.rebuiltGauge(metricCatalogue.alertsForecastMedianLead, (gauge) => {
      for (const s of forecastScores()) if (s.medianLeadMillis !== null) gauge.set({ rule: s.rule }, s.medianLeadMillis / 1000);
    });
    this.registry.processMetrics();
  }

  /** The outcome of one notification on each integration of its receiver. */
  delivered(receiver: string, outcomes: readonly DeliveryOutcome[]): void {
    for (const { integration, outcome } of outcomes) {
      // Cut short by the role stopping: the next process sends it, and counts it then.
      if (outcome === 'aborted') continue;
      this.notifications.inc({ receiver, integration, outcome: outcome === 'dead-letter' ? 'dead_letter' : outcome });
      if (outcome === 'dead-letter') this.deadLetters.inc({ receiver, integration });
    }
  }

  /** One evaluation of every rule. */
  evaluated(durationSeconds: number, atMillis: number): void {
    this.evaluationDuration.observe(Math.max(0, durationSeconds));
    this.lastEvaluation.set(atMillis / 1000);
  }

  async render(): Promise<string> {
    return await this.registry.render();
  }
}

/** A {@link Delivery} that counts what it delivered on {@link AlertsMetrics}. */
export class MeteredDelivery extends Delivery {
  constructor(
    options: DeliveryOptions,
    private readonly metrics: AlertsMetrics,
  ) {
    super(options);
  }

  override async deliver(notification: Notification, integrations: readonly Integration[]): Promise<DeliveryOutcome[]> {
    const outcomes = await super.deliver(notification, integrations);
    this.metrics.delivered(notification.receiver, outcomes);
    return outcomes;
  }
}
