import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { metricCatalogue, type MetricSpec } from './catalogue.js';
import { prometheusContentType } from './prometheus-text.js';

/** Reads a value at scrape time (queue depths, series counts owned by someone else). */
export type GaugeReader = () => number;

function expectType(spec: MetricSpec, type: MetricSpec['type']): void {
  // A catalogue entry used as the wrong type is a bug in Sloth, not bad input.
  if (spec.type !== type) throw new Error(`metric ${spec.name} is a ${spec.type} in the catalogue, not a ${type}`);
}

/**
 * One role's own metrics on one `prom-client` registry, created from
 * catalogue entries only: a name that is not in the catalogue cannot be
 * registered. Each role (and each `sloth up` role) owns one, so two roles in
 * one process never share a family.
 */
export class MetricsRegistry {
  readonly registry = new Registry();
  readonly contentType = prometheusContentType;

  /** A counter; with `readTotal`, its (unlabelled) value is the running total read on every scrape. */
  counter<L extends string>(spec: MetricSpec<L>, readTotal?: GaugeReader): Counter<L> {
    expectType(spec, 'counter');
    let reported = 0;
    return new Counter<L>({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labels,
      registers: [this.registry],
      ...(readTotal === undefined
        ? {}
        : {
            collect(this: Counter<L>) {
              // Counters only go up: add what was counted since the last scrape.
              const total = readTotal();
              if (total > reported) this.inc(total - reported);
              reported = Math.max(reported, total);
            },
          }),
    });
  }

  /** A gauge; with `read`, its (unlabelled) value is read on every scrape. */
  gauge<L extends string>(spec: MetricSpec<L>, read?: GaugeReader): Gauge<L> {
    expectType(spec, 'gauge');
    return new Gauge<L>({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labels,
      registers: [this.registry],
      ...(read === undefined
        ? {}
        : {
            collect(this: Gauge<L>) {
              this.set(read());
            },
          }),
    });
  }

  /**
   * A gauge whose labelled values are rebuilt on every scrape: `fill` sets
   * the current label sets, and label sets it no longer sets disappear.
   */
  rebuiltGauge<L extends string>(spec: MetricSpec<L>, fill: (gauge: Gauge<L>) => void): Gauge<L> {
    expectType(spec, 'gauge');
    return new Gauge<L>({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labels,
      registers: [this.registry],
      collect(this: Gauge<L>) {
        this.reset();
        fill(this);
      },
    });
  }

  histogram<L extends string>(spec: MetricSpec<L>): Histogram<L> {
    expectType(spec, 'histogram');
    return new Histogram<L>({ name: spec.name, help: spec.help, labelNames: spec.labels, buckets: [...(spec.buckets ?? [])], registers: [this.registry] });
  }

  /**
   * Resident memory, CPU time and start time of this process, the three
   * `process_*` families every role exports (prom-client's default set has
   * some thirty more; Sloth exports only what its dashboards read).
   */
  processMetrics(): void {
    const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
    this.gauge(metricCatalogue.processResidentMemory, () => process.memoryUsage.rss());
    this.gauge(metricCatalogue.processStartTime, () => startSeconds);
    this.counter(metricCatalogue.processCpuSeconds, () => {
      const usage = process.cpuUsage();
      return (usage.user + usage.system) / 1e6;
    });
  }

  /** The exposition text of every metric in this registry. */
  async render(): Promise<string> {
    return await this.registry.metrics();
  }
}
