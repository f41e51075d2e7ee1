import { metricCatalogue as m } from '@sloth/core';
import { DashboardPlan, dashboardUids, jobs, quantile, rate, sel, type SlothDashboard } from '../common.js';

/** Collector: ingest, rejects, latency, series, the write-ahead log and the samples stream. */
export function collectorDashboard(): SlothDashboard {
  return new DashboardPlan(dashboardUids.collector, 'Sloth / Collector', 'The collector’s ingest path: OTLP requests, points accepted and rejected, latency, active series, the write-ahead log and the samples stream to analytics.')
    .row('Ingest')
    .stat('Points per second', { expr: `sum(${rate(m.collectorPointsReceived)})` }, { description: 'Data points, spans and log records accepted per second.', unit: 'short', thresholds: [] })
    .stat('Active series', { expr: `sum(${sel(m.collectorActiveSeries)})` }, { description: 'Series known to the collector.', unit: 'short', thresholds: [] })
    .stat('WAL backlog', { expr: `sum(${sel(m.collectorQueueDepth)})` }, { description: 'Points durable in the write-ahead log, not yet in the store.', unit: 'short', thresholds: [[100_000, 'orange'], [1_000_000, 'red']] })
    .stat('Analytics lag', { expr: `max(${sel(m.analyticsLag)})` }, { description: 'Age of the newest scored stream entry when analytics scored it.', unit: 's', thresholds: [[30, 'orange'], [120, 'red']] })
    .timeseries('Ingest rate by signal', [{ expr: `sum by (signal) (${rate(m.collectorPointsReceived)})`, legend: '{{signal}}' }], { description: 'Accepted per second: metric points, spans, log records.', unit: 'short', min: 0 })
    .timeseries('Rejects by reason', [{ expr: `sum by (reason) (${rate(m.collectorPointsRejected)})`, legend: '{{reason}}' }], {
      description: 'Points refused per second, by reason (cardinality, invalid, …).',
      unit: 'short',
      min: 0,
      thresholds: [[1, 'red']],
      expectEmpty: 'nothing was rejected',
    })
    .row('Requests')
    .timeseries('Requests by status', [{ expr: `sum by (code) (${rate(m.collectorRequests)})`, legend: '{{code}}' }], { description: 'OTLP/HTTP requests answered per second, by status code.', unit: 'reqps', min: 0 })
    .timeseries(
      'Request latency',
      [
        { expr: quantile(0.5, m.collectorRequestDuration), legend: 'p50' },
        { expr: quantile(0.95, m.collectorRequestDuration), legend: 'p95' },
        { expr: quantile(0.99, m.collectorRequestDuration), legend: 'p99' },
      ],
      { description: 'Time from receiving an OTLP/HTTP request to answering it.', unit: 's', min: 0, thresholds: [[0.5, 'orange'], [2, 'red']] },
    )
    .row('Storage and stream')
    .timeseries(
      'Series and WAL',
      [
        { expr: sel(m.collectorActiveSeries), legend: 'active series {{instance}}' },
        { expr: sel(m.collectorQueueDepth), legend: 'WAL backlog {{instance}}' },
      ],
      { description: 'Active series, and points in the write-ahead log not yet applied to the store.', unit: 'short', min: 0 },
    )
    .timeseries(
      'Samples stream',
      [
        { expr: rate(m.collectorStreamPublished), legend: 'published/s' },
        { expr: rate(m.collectorStreamDropped), legend: 'dropped/s' },
        { expr: sel(m.collectorStreamBuffered), legend: 'buffered' },
      ],
      { description: 'Samples published to Redis for analytics, dropped when Redis could not keep up, and waiting.', unit: 'short', min: 0 },
    )
    .timeseries('Stream lag', [{ expr: sel(m.analyticsLag), legend: '{{instance}}' }], {
      description: 'How far analytics is behind the samples stream: age of the newest scored entry when it was scored.',
      unit: 's',
      min: 0,
      thresholds: [[30, 'orange'], [120, 'red']],
    })
    .timeseries(
      'Stream backlog',
      [
        { expr: sel(m.analyticsStreamBacklog), legend: 'undelivered {{instance}}' },
        { expr: sel(m.analyticsPendingEntries), legend: 'unacknowledged {{instance}}' },
      ],
      { description: 'Samples-stream entries not yet delivered to analytics, and delivered but not acknowledged.', unit: 'short', min: 0 },
    )
    .timeseries(
      'Memory',
      [
        { expr: sel(m.processResidentMemory, `job="${jobs.collector}"`), legend: 'RSS {{instance}}' },
        { expr: sel(m.collectorHeapUsed), legend: 'heap {{instance}}' },
      ],
      { description: 'Resident memory and V8 heap of each collector.', unit: 'bytes', min: 0 },
    )
    .build();
}
