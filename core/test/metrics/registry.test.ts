import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { metricCatalogue } from '../../src/metrics/catalogue.js';
import { MetricsRegistry } from '../../src/metrics/registry.js';

function promtool(text: string): string {
  // promtool prints every problem (errors and lint) and exits non-zero on errors.
  return execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).trim();
}

describe('MetricsRegistry', () => {
  it('registers catalogue entries on its own prom-client registry and renders text promtool accepts', async () => {
    const metrics = new MetricsRegistry();
    metrics.counter(metricCatalogue.collectorPointsReceived).inc({ signal: 'metrics' }, 5);
    metrics.histogram(metricCatalogue.collectorRequestDuration).observe(0.003);
    let depth = 7;
    metrics.gauge(metricCatalogue.collectorQueueDepth, () => depth);
    metrics.processMetrics();
    depth = 9;
    const text = await metrics.render();
    expect(text).toContain('sloth_collector_points_received_total{signal="metrics"} 5');
    expect(text).toContain('sloth_collector_request_duration_seconds_bucket{le="0.005"} 1');
    expect(text).toContain('sloth_collector_queue_depth 9');
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect(text).toMatch(/^process_cpu_seconds_total [\d.e-]+$/m);
    expect(text).toMatch(/^process_start_time_seconds \d+$/m);
    expect(promtool(text)).toBe('');
    // Two registries do not share families: `sloth up` runs every role in one process.
    expect((await new MetricsRegistry().render()).trim()).toBe('');
  });

  it('reads a running total into a counter that never goes down', async () => {
    const metrics = new MetricsRegistry();
    let total = 3;
    metrics.counter(metricCatalogue.collectorStreamPublished, () => total);
    expect(await metrics.render()).toContain('sloth_collector_stream_published_total 3');
    total = 10;
    expect(await metrics.render()).toContain('sloth_collector_stream_published_total 10');
    total = 4;
    expect(await metrics.render()).toContain('sloth_collector_stream_published_total 10');
  });

  it('rebuilds a labelled gauge on every scrape, so label sets that are gone disappear', async () => {
    const metrics = new MetricsRegistry();
    let scores: Array<[string, number]> = [['a', 0.5], ['b', 0.9]];
    metrics.rebuiltGauge(metricCatalogue.anomalyScore, (gauge) => {
      for (const [series, score] of scores) gauge.set({ series, agent: 'h', metric: 'm' }, score);
    });
    expect(await metrics.render()).toContain('sloth_anomaly_score{series="b",agent="h",metric="m"} 0.9');
    scores = [['a', 0.25]];
    const text = await metrics.render();
    expect(text).toContain('sloth_anomaly_score{series="a",agent="h",metric="m"} 0.25');
    expect(text).not.toContain('series="b"');
  });

  it('refuses a catalogue entry used as another type', () => {
    const metrics = new MetricsRegistry();
    expect(() => metrics.gauge(metricCatalogue.collectorPointsReceived)).toThrow('metric sloth_collector_points_received_total is a counter in the catalogue, not a gauge');
    expect(() => metrics.counter(metricCatalogue.collectorQueueDepth)).toThrow(/is a gauge in the catalogue, not a counter/);
  });
});
