/**
 * The service's Prometheus exposition (text format 0.0.4), kept by hand: a
 * handful of gauges and counters whose label sets come and go with series.
 */

export interface SeriesLabels {
  series: string;
  agent: string;
  metric: string;
}

interface ForecastGaugePoint {
  quantile: '0.1' | '0.5' | '0.9';
  horizonSteps: number;
  value: number;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** Service-level counters and the per-series gauges. */
export class AnalyticsMetrics {
  samplesScored = 0;
  badEntries = 0;
  outOfOrderSamples = 0;
  anomaliesPublished = 0;
  forecastsPublished = 0;
  forecastFailures = 0;
  modelsTrained = 0;
  trainingFailures = 0;
  entriesClaimed = 0;
  seriesEvicted = 0;
  snapshotsWritten = 0;
  coldStartPoints = 0;
  /** Entries of the samples stream not yet delivered to the group (XINFO GROUPS lag), refreshed every claim interval. */
  backlogEntries = 0;
  /** Entries delivered to the group's consumers but not acknowledged. */
  pendingEntries = 0;
  /** Age of the newest scored stream entry when it was scored. */
  lagSeconds = 0;
  /** Filled by the service before each render. */
  trackedSeries = 0;
  trainingBacklog = 0;
  private readonly scores = new Map<string, { labels: { seriesId: string; agentId: string; metric: string }; score: number }>();
  private readonly forecasts = new Map<string, { labels: SeriesLabels; points: ForecastGaugePoint[] }>();

  /** Latest score of a series; `labels.agentId` is read at render time (an agent may re-register a series). */
  setScore(labels: { seriesId: string; agentId: string; metric: string }, score: number): void {
    const entry = this.scores.get(labels.seriesId);
    if (entry === undefined) this.scores.set(labels.seriesId, { labels, score });
    else entry.score = score;
  }

  setForecast(labels: SeriesLabels, points: ReadonlyArray<{ p10: number; p50: number; p90: number }>): void {
    const gauge: ForecastGaugePoint[] = [];
    points.forEach((p, i) => {
      gauge.push({ quantile: '0.1', horizonSteps: i + 1, value: p.p10 }, { quantile: '0.5', horizonSteps: i + 1, value: p.p50 }, { quantile: '0.9', horizonSteps: i + 1, value: p.p90 });
    });
    this.forecasts.set(labels.series, { labels, points: gauge });
  }

  /** Forgets a series' gauges (when it is evicted). */
  dropSeries(seriesId: string): void {
    this.scores.delete(seriesId);
    this.forecasts.delete(seriesId);
  }

  render(): string {
    const lines: string[] = [];
    const family = (name: string, type: 'gauge' | 'counter' | 'summary', help: string): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    family('sloth_anomaly_score', 'gauge', 'Latest anomaly score of the series, in [0, 1].');
    for (const { labels, score } of this.scores.values()) {
      lines.push(`sloth_anomaly_score${labelText({ series: labels.seriesId, agent: labels.agentId, metric: labels.metric })} ${formatValue(score)}`);
    }
    // Typed as a summary: its samples are quantiles (of the forecast distribution), and promtool's lint
    // rejects a "quantile" label on any other type. There are no _sum/_count samples: nothing was observed.
    family('sloth_forecast', 'summary', 'Latest forecast of the series: quantile 0.1/0.5/0.9 of the value horizon_steps steps after the last sample.');
    for (const { labels, points } of this.forecasts.values()) {
      for (const p of points) {
        const l = labelText({ series: labels.series, agent: labels.agent, metric: labels.metric, quantile: p.quantile, horizon_steps: String(p.horizonSteps) });
        lines.push(`sloth_forecast${l} ${formatValue(p.value)}`);
      }
    }
    const counter = (name: string, help: string, value: number): void => {
      family(name, 'counter', help);
      lines.push(`${name} ${formatValue(value)}`);
    };
    const gauge = (name: string, help: string, value: number): void => {
      family(name, 'gauge', help);
      lines.push(`${name} ${formatValue(value)}`);
    };
    counter('sloth_analytics_samples_scored_total', 'Samples scored by the anomaly detector.', this.samplesScored);
    counter('sloth_analytics_bad_entries_total', 'Samples in stream entries that were not valid, and entries that could not be read at all (acknowledged and skipped).', this.badEntries);
    counter('sloth_analytics_out_of_order_samples_total', 'Samples not newer than the previous sample of their series (acknowledged and skipped).', this.outOfOrderSamples);
    counter('sloth_analytics_anomalies_published_total', 'Anomaly events published.', this.anomaliesPublished);
    counter('sloth_analytics_forecasts_published_total', 'Forecasts published.', this.forecastsPublished);
    counter('sloth_analytics_forecast_failures_total', 'Forecasts that failed.', this.forecastFailures);
    counter('sloth_analytics_models_trained_total', 'Detector models trained and installed.', this.modelsTrained);
    counter('sloth_analytics_training_failures_total', 'Detector trainings that failed.', this.trainingFailures);
    counter('sloth_analytics_entries_claimed_total', 'Pending stream entries claimed from dead consumers.', this.entriesClaimed);
    counter('sloth_analytics_series_evicted_total', 'Series evicted from memory (snapshotted first).', this.seriesEvicted);
    counter('sloth_analytics_snapshots_written_total', 'Detector snapshots written to the model registry.', this.snapshotsWritten);
    counter('sloth_analytics_cold_start_points_total', 'Past points read from the collector to warm up new series.', this.coldStartPoints);
    gauge('sloth_analytics_lag_seconds', 'Age of the newest scored stream entry when it was scored.', this.lagSeconds);
    gauge('sloth_analytics_stream_backlog_entries', 'Samples-stream entries not yet delivered to the consumer group (refreshed every claim interval).', this.backlogEntries);
    gauge('sloth_analytics_pending_entries', 'Samples-stream entries delivered to the group but not acknowledged (refreshed every claim interval).', this.pendingEntries);
    gauge('sloth_analytics_tracked_series', 'Series held in memory.', this.trackedSeries);
    gauge('sloth_analytics_training_backlog', 'Training and forecast tasks queued or running in the worker threads.', this.trainingBacklog);
    return `${lines.join('\n')}\n`;
  }
}
