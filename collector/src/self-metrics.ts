import { metricCatalogue, MetricsRegistry } from '@sloth/core';
import type { MetricCounter as Counter, MetricHistogram as Histogram } from '@sloth/core';

/** A counter with one label, counted by the OTLP handlers. */
class LabelledCounter<L extends string> {
  constructor(
    private readonly counter: Counter<L>,
    private readonly label: L,
  ) {}

  add(labelValue: string, amount: number): void {
    if (amount === 0) return;
    this.counter.inc({ [this.label]: labelValue } as Partial<Record<L, string>>, amount);
  }
}

/** A histogram of durations in seconds. */
class DurationHistogram {
  constructor(private readonly histogram: Histogram) {}

  observe(seconds: number): void {
    this.histogram.observe(seconds);
  }
}

export interface SelfMetricsGauges {
  queueDepth(): number;
  activeSeries(): number;
  streamBuffered?(): number;
  /** The latency budget and the latest estimated wait, in seconds (absent: 0). */
  latencyBudgetSeconds?(): number;
  estimatedWaitSeconds?(): number;
}

/**
 * The collector's own metrics (names from the core catalogue), on its own
 * prom-client registry. They follow the stored series on `/metrics`.
 */
export class SelfMetrics {
  readonly registry = new MetricsRegistry();
  readonly pointsReceived = new LabelledCounter(this.registry.counter(metricCatalogue.collectorPointsReceived), 'signal');
  readonly pointsRejected = new LabelledCounter(this.registry.counter(metricCatalogue.collectorPointsRejected), 'reason');
  readonly valuesTruncated = new LabelledCounter(this.registry.counter(metricCatalogue.collectorTruncatedValues), 'signal');
  readonly requests = new LabelledCounter(this.registry.counter(metricCatalogue.collectorRequests), 'code');
  readonly requestDuration = new DurationHistogram(this.registry.histogram(metricCatalogue.collectorRequestDuration));
  readonly queueWait = new DurationHistogram(this.registry.histogram(metricCatalogue.collectorQueueWait));
  readonly budgetRejections = this.registry.counter(metricCatalogue.collectorBudgetRejections);
  readonly remoteWriteSamples = this.registry.counter(metricCatalogue.collectorRemoteWriteSamples);
  readonly remoteWriteFailures = this.registry.counter(metricCatalogue.collectorRemoteWriteFailures);
  readonly remoteWriteDropped = this.registry.counter(metricCatalogue.collectorRemoteWriteDropped);
  private readonly streamDropped = this.registry.counter(metricCatalogue.collectorStreamDropped);
  private readonly streamPublished = this.registry.counter(metricCatalogue.collectorStreamPublished);

  constructor(gauges: SelfMetricsGauges) {
    this.registry.gauge(metricCatalogue.collectorQueueDepth, () => gauges.queueDepth());
    this.registry.gauge(metricCatalogue.collectorActiveSeries, () => gauges.activeSeries());
    this.registry.gauge(metricCatalogue.collectorStreamBuffered, () => gauges.streamBuffered?.() ?? 0);
    this.registry.gauge(metricCatalogue.collectorLatencyBudget, () => gauges.latencyBudgetSeconds?.() ?? 0);
    this.registry.gauge(metricCatalogue.collectorEstimatedWait, () => gauges.estimatedWaitSeconds?.() ?? 0);
    this.registry.gauge(metricCatalogue.collectorHeapUsed, () => process.memoryUsage().heapUsed);
    this.registry.processMetrics();
  }

  /** Registers the remote-write lag gauge; `fill` sets each remote's lag in seconds at scrape time. */
  remoteWriteLag(fill: (set: (remote: string, seconds: number) => void) => void): void {
    this.registry.rebuiltGauge(metricCatalogue.collectorRemoteWriteLag, (gauge) => {
      fill((remote, seconds) => gauge.set({ remote }, seconds));
    });
  }

  addStreamDropped(count: number): void {
    this.streamDropped.inc(count);
  }

  addStreamPublished(count: number): void {
    this.streamPublished.inc(count);
  }

  /** The exposition text of the collector's own metrics. */
  async render(): Promise<string> {
    return await this.registry.render();
  }
}
