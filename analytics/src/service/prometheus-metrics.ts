import { forecastHorizonSteps, metricCatalogue, MetricsRegistry, type MetricCounter, type MetricSpec } from '@sloth/core';

export interface SeriesLabels {
  series: string;
  agent: string;
  metric: string;
}

interface ScoreLabels {
  seriesId: string;
  agentId: string;
  metric: string;
  /** The value just scored (the rate for counters), exported beside the score. */
  lastScoredValue?: number | undefined;
}

interface ScoreEntry {
  labels: ScoreLabels;
  score: number;
  value: number | undefined;
}

interface ForecastEntry {
  labels: SeriesLabels;
  points: Array<{ percentile: 'p10' | 'p50' | 'p90'; horizonSteps: number; value: number }>;
}

/**
 * The service's counters as plain numbers (`metrics.samplesScored += 1`),
 * each backed by a prom-client counter or gauge of the catalogue on the
 * service's own registry; per-series gauges are rebuilt from the latest
 * scores and forecasts on every scrape, so an evicted series disappears
 * (and a stopped series' forecast, once the scheduler finds it stale).
 */
export class AnalyticsMetrics {
  readonly registry = new MetricsRegistry();
  /** Entries of the samples stream not yet delivered to the group (XINFO GROUPS lag), refreshed every claim interval. */
  backlogEntries = 0;
  /** Entries delivered to the group's consumers but not acknowledged. */
  pendingEntries = 0;
  /** Age of the newest scored stream entry when it was scored. */
  lagSeconds = 0;
  /** Filled by the service before each render. */
  trackedSeries = 0;
  trainingBacklog = 0;
  /** Samples of excluded metrics (Sloth's own telemetry by default), not scored; for tests and logs (not on `/metrics` until the catalogue names it). */
  samplesExcluded = 0;
  /** Milliseconds the compute pool (training and forecasts) rested to stay within its duty cycle (`trainingDutyCycle`); for tests and logs. */
  computePauseMillis = 0;
  /** Rests the compute pool began (each after a slice of work); for tests and logs. */
  computeRestsStarted = 0;
  private lastAnomalySeconds = 0;
  private readonly scores = new Map<string, ScoreEntry>();
  private readonly forecasts = new Map<string, ForecastEntry>();
  private readonly counters = new Map<string, { counter: MetricCounter; value: number }>();

  constructor() {
    this.registry.rebuiltGauge(metricCatalogue.anomalyScore, (gauge) => {
      for (const { labels, score } of this.scores.values()) gauge.set({ series: labels.seriesId, agent: labels.agentId, metric: labels.metric }, score);
    });
    this.registry.rebuiltGauge(metricCatalogue.scoredValue, (gauge) => {
      for (const { labels, value } of this.scores.values()) if (value !== undefined) gauge.set({ series: labels.seriesId, agent: labels.agentId, metric: labels.metric }, value);
    });
    this.registry.rebuiltGauge(metricCatalogue.forecast, (gauge) => {
      for (const { labels, points } of this.forecasts.values()) {
        for (const p of points) gauge.set({ ...labels, percentile: p.percentile, horizon_steps: String(p.horizonSteps) }, p.value);
      }
    });
    for (const spec of counterSpecs) this.counters.set(spec.name, { counter: this.registry.counter(spec), value: 0 });
    this.registry.gauge(metricCatalogue.analyticsLastAnomaly, () => this.lastAnomalySeconds);
    this.registry.gauge(metricCatalogue.analyticsLag, () => this.lagSeconds);
    this.registry.gauge(metricCatalogue.analyticsStreamBacklog, () => this.backlogEntries);
    this.registry.gauge(metricCatalogue.analyticsPendingEntries, () => this.pendingEntries);
    this.registry.gauge(metricCatalogue.analyticsTrackedSeries, () => this.trackedSeries);
    this.registry.gauge(metricCatalogue.analyticsTrainingBacklog, () => this.trainingBacklog);
    this.registry.processMetrics();
  }

  get samplesScored(): number {
    return this.read(metricCatalogue.analyticsSamplesScored);
  }
  set samplesScored(value: number) {
    this.write(metricCatalogue.analyticsSamplesScored, value);
  }
  get badEntries(): number {
    return this.read(metricCatalogue.analyticsBadEntries);
  }
  set badEntries(value: number) {
    this.write(metricCatalogue.analyticsBadEntries, value);
  }
  get outOfOrderSamples(): number {
    return this.read(metricCatalogue.analyticsOutOfOrderSamples);
  }
  set outOfOrderSamples(value: number) {
    this.write(metricCatalogue.analyticsOutOfOrderSamples, value);
  }
  get anomaliesPublished(): number {
    return this.read(metricCatalogue.analyticsAnomaliesPublished);
  }
  /** Also stamps the time of the last anomaly, which the incident annotations read. */
  set anomaliesPublished(value: number) {
    if (value > this.anomaliesPublished) this.lastAnomalySeconds = Date.now() / 1000;
    this.write(metricCatalogue.analyticsAnomaliesPublished, value);
  }
  get forecastsPublished(): number {
    return this.read(metricCatalogue.analyticsForecastsPublished);
  }
  set forecastsPublished(value: number) {
    this.write(metricCatalogue.analyticsForecastsPublished, value);
  }
  get forecastFailures(): number {
    return this.read(metricCatalogue.analyticsForecastFailures);
  }
  set forecastFailures(value: number) {
    this.write(metricCatalogue.analyticsForecastFailures, value);
  }
  get modelsTrained(): number {
    return this.read(metricCatalogue.analyticsModelsTrained);
  }
  set modelsTrained(value: number) {
    this.write(metricCatalogue.analyticsModelsTrained, value);
  }
  get trainingFailures(): number {
    return this.read(metricCatalogue.analyticsTrainingFailures);
  }
  set trainingFailures(value: number) {
    this.write(metricCatalogue.analyticsTrainingFailures, value);
  }
  get entriesClaimed(): number {
    return this.read(metricCatalogue.analyticsEntriesClaimed);
  }
  set entriesClaimed(value: number) {
    this.write(metricCatalogue.analyticsEntriesClaimed, value);
  }
  get seriesEvicted(): number {
    return this.read(metricCatalogue.analyticsSeriesEvicted);
  }
  set seriesEvicted(value: number) {
    this.write(metricCatalogue.analyticsSeriesEvicted, value);
  }
  get snapshotsWritten(): number {
    return this.read(metricCatalogue.analyticsSnapshotsWritten);
  }
  set snapshotsWritten(value: number) {
    this.write(metricCatalogue.analyticsSnapshotsWritten, value);
  }
  get coldStartPoints(): number {
    return this.read(metricCatalogue.analyticsColdStartPoints);
  }
  set coldStartPoints(value: number) {
    this.write(metricCatalogue.analyticsColdStartPoints, value);
  }

  /** Latest score of a series, and the value scored; `labels.agentId` is read at scrape time (an agent may re-register a series). */
  setScore(labels: ScoreLabels, score: number): void {
    const entry = this.scores.get(labels.seriesId);
    if (entry === undefined) this.scores.set(labels.seriesId, { labels, score, value: labels.lastScoredValue });
    else {
      entry.score = score;
      entry.value = labels.lastScoredValue;
    }
  }

  /**
   * Latest forecast of a series. Only the horizons of `forecastHorizonSteps`
   * are exposed (9 series per forecast series, not 3 per step).
   */
  setForecast(labels: SeriesLabels, points: ReadonlyArray<{ p10: number; p50: number; p90: number }>): void {
    const gauge: ForecastEntry['points'] = [];
    for (const horizonSteps of forecastHorizonSteps) {
      const p = points[horizonSteps - 1];
      if (p === undefined) continue;
      gauge.push({ percentile: 'p10', horizonSteps, value: p.p10 }, { percentile: 'p50', horizonSteps, value: p.p50 }, { percentile: 'p90', horizonSteps, value: p.p90 });
    }
    this.forecasts.set(labels.series, { labels, points: gauge });
  }

  /**
   * Takes a series' forecast off `/metrics` (when it stopped reporting), keeping its score; the next
   * {@link setForecast} puts it back.
   */
  dropForecast(seriesId: string): void {
    this.forecasts.delete(seriesId);
  }

  /** Forgets a series' gauges (when it is evicted). */
  dropSeries(seriesId: string): void {
    this.scores.delete(seriesId);
    this.forecasts.delete(seriesId);
  }

  /** The exposition text of the service's metrics. */
  async render(): Promise<string> {
    return await this.registry.render();
  }

  private read(spec: MetricSpec): number {
    return this.counters.get(spec.name)?.value ?? 0;
  }

  private write(spec: MetricSpec, value: number): void {
    const entry = this.counters.get(spec.name);
    if (entry === undefined) throw new Error(`${spec.name} is not one of the analytics counters`);
    // Counters only go up; the service only ever adds to these fields.
    if (value > entry.value) entry.counter.inc(value - entry.value);
    entry.value = value;
  }
}

const counterSpecs: readonly MetricSpec[] = [
  metricCatalogue.analyticsSamplesScored,
  metricCatalogue.analyticsBadEntries,
  metricCatalogue.analyticsOutOfOrderSamples,
  metricCatalogue.analyticsAnomaliesPublished,
  metricCatalogue.analyticsForecastsPublished,
  metricCatalogue.analyticsForecastFailures,
  metricCatalogue.analyticsModelsTrained,
  metricCatalogue.analyticsTrainingFailures,
  metricCatalogue.analyticsEntriesClaimed,
  metricCatalogue.analyticsSeriesEvicted,
  metricCatalogue.analyticsSnapshotsWritten,
  metricCatalogue.analyticsColdStartPoints,
];
