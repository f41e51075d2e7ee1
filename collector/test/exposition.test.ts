import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { prometheusLabelName, prometheusMetricName, renderSeriesExposition, seriesExposition } from '../src/exposition.js';
import { metricColumns } from '../src/records.js';
import { LatestValues } from '../src/latest-values.js';
import { SelfMetrics } from '../src/self-metrics.js';
import { point } from './store/fixtures.js';

function promtool(text: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (result.error !== undefined) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('OpenTelemetry → Prometheus names', () => {
  it.each([
    [{ name: 'system.memory.usage', unit: 'By', kind: 'sum', monotonic: false }, 'system_memory_usage_bytes'],
    [{ name: 'system.cpu.utilization', unit: '1', kind: 'gauge', monotonic: false }, 'system_cpu_utilization_ratio'],
    [{ name: 'system.cpu.time', unit: 's', kind: 'sum', monotonic: true }, 'system_cpu_time_seconds_total'],
    [{ name: 'http.server.requests', unit: '{request}', kind: 'sum', monotonic: true }, 'http_server_requests_total'],
    [{ name: 'requests.total', unit: '', kind: 'sum', monotonic: true }, 'requests_total'],
    [{ name: 'system.network.dropped', unit: '{packets}', kind: 'sum', monotonic: true }, 'system_network_dropped_total'],
    [{ name: 'system.network.dropped', unit: 'packets', kind: 'gauge', monotonic: false }, 'system_network_dropped_packets'],
    [{ name: 'http.server.duration', unit: 'ms', kind: 'histogram', monotonic: false }, 'http_server_duration_milliseconds'],
    [{ name: 'vehicle.speed', unit: 'm/s', kind: 'gauge', monotonic: false }, 'vehicle_speed_meters_per_second'],
    [{ name: 'process.uptime.seconds', unit: 's', kind: 'gauge', monotonic: false }, 'process_uptime_seconds'],
    [{ name: '(lambda).function.executions(#)', unit: '', kind: 'gauge', monotonic: false }, 'lambda_function_executions'],
    [{ name: '2xx.count', unit: '', kind: 'gauge', monotonic: false }, '_2xx_count'],
    [{ name: 'queue.depth', unit: '1', kind: 'sum', monotonic: true }, 'queue_depth_total'],
  ] as const)('%o → %s', (metric, expected) => {
    expect(prometheusMetricName(metric)).toBe(expected);
  });

  it('sanitises label names', () => {
    expect(prometheusLabelName('service.instance.id')).toBe('service_instance_id');
    expect(prometheusLabelName('0day')).toBe('key_0day');
    expect(prometheusLabelName('_private')).toBe('key_private');
    expect(prometheusLabelName('__reserved')).toBe('__reserved');
    expect(prometheusLabelName('agent')).toBe('agent');
  });
});

describe('renderSeriesExposition', () => {
  it('renders gauges, counters and histograms with one HELP/TYPE per family', () => {
    const latest = new LatestValues();
    latest.update(metricColumns([
      point({ name: 'system.cpu.utilization', unit: '1', labels: { 'cpu.state': 'user' }, t: 1_000, v: 0.25, description: 'CPU\nutilisation \\ share' }),
      point({ name: 'system.cpu.utilization', unit: '1', labels: { 'cpu.state': 'idle' }, t: 1_000, v: 0.75 }),
      point({ name: 'system.cpu.utilization', unit: '1', labels: { 'cpu.state': 'user' }, agentId: 'host-b', t: 1_000, v: 0.5 }),
      point({ name: 'http.server.requests', unit: '{request}', kind: 'sum', monotonic: true, labels: { path: '/a"b\\c\nd' }, t: 1_000, v: 12 }),
      point({ name: 'http.server.duration', unit: 's', kind: 'histogram', t: 1_000, count: 10, sum: 0.5325, bounds: [0.01, 0.1], bucketCounts: [4, 5, 1] }),
      point({ name: 'system.memory.usage', unit: 'By', kind: 'sum', labels: { state: 'used' }, t: 1_000, v: 1_073_741_824 }),
      point({ name: 'temperature', unit: 'Cel', t: 1_000, v: Number.NaN }),
    ]));
    // A later point replaces the earlier one; an older one does not.
    latest.update(metricColumns([point({ name: 'system.memory.usage', unit: 'By', kind: 'sum', labels: { state: 'used' }, t: 2_000, v: 2_147_483_648 })]));
    latest.update(metricColumns([point({ name: 'system.memory.usage', unit: 'By', kind: 'sum', labels: { state: 'used' }, t: 500, v: 1 })]));
    const text = renderSeriesExposition(latest);
    expect(text).toBe(
      [
        '# HELP http_server_duration_seconds http.server.duration',
        '# TYPE http_server_duration_seconds histogram',
        'http_server_duration_seconds_bucket{agent="host-a",le="0.01"} 4',
        'http_server_duration_seconds_bucket{agent="host-a",le="0.1"} 9',
        'http_server_duration_seconds_bucket{agent="host-a",le="+Inf"} 10',
        'http_server_duration_seconds_sum{agent="host-a"} 0.5325',
        'http_server_duration_seconds_count{agent="host-a"} 10',
        '# HELP http_server_requests_total http.server.requests',
        '# TYPE http_server_requests_total counter',
        'http_server_requests_total{agent="host-a",path="/a\\"b\\\\c\\nd"} 12',
        '# HELP system_cpu_utilization_ratio CPU\\nutilisation \\\\ share',
        '# TYPE system_cpu_utilization_ratio gauge',
        'system_cpu_utilization_ratio{agent="host-a",cpu_state="idle"} 0.75',
        'system_cpu_utilization_ratio{agent="host-a",cpu_state="user"} 0.25',
        'system_cpu_utilization_ratio{agent="host-b",cpu_state="user"} 0.5',
        '# HELP system_memory_usage_bytes system.memory.usage',
        '# TYPE system_memory_usage_bytes gauge',
        'system_memory_usage_bytes{agent="host-a",state="used"} 2147483648',
        '# HELP temperature_celsius temperature',
        '# TYPE temperature_celsius gauge',
        'temperature_celsius{agent="host-a"} NaN',
        '',
      ].join('\n'),
    );
    const check = promtool(text);
    expect(check.output).toBe('');
    expect(check.status).toBe(0);
  });

  it('merges labels that collide after sanitising and drops duplicate series, staying valid for promtool', () => {
    const latest = new LatestValues([
      point({ name: 'jobs.queued', unit: '{job}', labels: { 'queue.name': 'a', queue_name: 'b' }, t: 1, v: 3 }),
      // `jobs_queued` maps to the same Prometheus name and labels as `jobs.queued`: only one may be exposed.
      point({ name: 'jobs_queued', unit: '{job}', labels: { 'queue.name': 'a', queue_name: 'b' }, t: 1, v: 4 }),
      // Same name but a different type: Prometheus cannot mix them; the first family wins.
      point({ name: 'jobs.queued', kind: 'histogram', labels: { x: '1' }, t: 1, count: 1, sum: 1, bounds: [], bucketCounts: [1] }),
    ]);
    const text = renderSeriesExposition(latest);
    expect(text.split('\n').filter((l) => l.startsWith('jobs_queued{'))).toHaveLength(1);
    expect(text).toMatch(/^jobs_queued\{agent="host-a",queue_name="a;b"\} [34]$/m);
    expect(text).not.toContain('histogram');
    expect(promtool(text).status).toBe(0);
  });

  it('exposes one of two agent metrics whose sample names meet (a histogram foo and a gauge foo_count): the histogram, and the page stays valid', () => {
    const latest = new LatestValues([
      point({ name: 'foo', kind: 'histogram', t: 1, count: 2, sum: 1, bounds: [1], bucketCounts: [1, 1] }),
      point({ name: 'foo_count', kind: 'gauge', t: 1, v: 5 }),
      point({ name: 'bar', kind: 'gauge', t: 1, v: 1 }),
    ]);
    const text = renderSeriesExposition(latest);
    expect(text).toContain('# TYPE foo histogram\n');
    expect(text).not.toContain('# TYPE foo_count gauge');
    expect(text).toContain('# TYPE bar gauge\n');
    expect(promtool(text)).toEqual({ status: 0, output: '' });
  });

  it('renames an agent metric that would take any name the collector\'s own metrics take, so that /metrics stays one valid page', async () => {
    const own = new SelfMetrics({ queueDepth: () => 0, activeSeries: () => 0 });
    // Registered only with remote write configured: its name is reserved all the same.
    own.remoteWriteLag(() => undefined);
    const ownText = await own.render();
    const families = [...ownText.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => ({ name: m[1] as string, type: m[2] as string }));
    expect(families.length).toBeGreaterThan(15);
    const kinds = { counter: { kind: 'sum', monotonic: true }, gauge: { kind: 'gauge', monotonic: false }, histogram: { kind: 'histogram', monotonic: false } } as const;
    // An agent metric named exactly like each of the collector's own families, of the same type.
    const sameName = families.map(({ name, type }) => {
      const shape = kinds[type as keyof typeof kinds];
      return shape.kind === 'histogram'
        ? point({ name, kind: 'histogram', t: 1, count: 2, sum: 1, bounds: [1], bucketCounts: [1, 1] })
        : point({ name, kind: shape.kind, monotonic: shape.monotonic, t: 1, v: 7 });
    });
    const agents = renderSeriesExposition(new LatestValues(sameName));
    for (const { name, type } of families) expect(agents, name).toContain(`# TYPE exported_${name} ${type}\n`);
    expect(agents).not.toMatch(/^# TYPE (?!exported_)/m);
    expect(promtool(agents + ownText)).toEqual({ status: 0, output: '' });

    // Names that meet the collector's only through a histogram's samples: a gauge named like its `_count`, a histogram whose `_count` is its gauge.
    const bySample = new LatestValues([
      point({ name: 'sloth_collector_request_duration_seconds_count', t: 1, v: 3 }),
      point({ name: 'sloth_collector_queue', kind: 'histogram', t: 1, count: 1, sum: 1, bounds: [], bucketCounts: [1] }),
      point({ name: 'sloth_collector_active', kind: 'histogram', unit: '{series}', t: 1, count: 1, sum: 1, bounds: [], bucketCounts: [1] }),
    ]);
    const sampled = renderSeriesExposition(bySample);
    expect(sampled).toContain('exported_sloth_collector_request_duration_seconds_count{agent="host-a"} 3');
    // `sloth_collector_queue` meets nothing (`_count` is not `_depth`), nor does `sloth_collector_active` (a histogram, not the series gauge).
    expect(sampled).toContain('# TYPE sloth_collector_queue histogram');
    const check = promtool(sampled + ownText);
    // promtool lints a gauge named `_count` (exit 3) whatever its name; what must not happen is a parse error (exit 1).
    expect(check.output).toBe('exported_sloth_collector_request_duration_seconds_count non-histogram and non-summary metrics should not have "_count" suffix\n');
    expect(check.status).toBe(3);
  });

  it('is checked by a promtool that does catch broken text (sanity check of the check)', () => {
    expect(promtool('# TYPE x gauge\nx{a="1" 1\n').status).not.toBe(0);
  });

  it('renders nothing for no series', () => {
    expect(renderSeriesExposition(new LatestValues())).toBe('');
  });

  it('comes in whole lines of about the chunk size, and a scrape sees updates made between chunks', () => {
    const latest = new LatestValues();
    const points = Array.from({ length: 500 }, (_, i) => point({ name: 'queue.depth', labels: { queue: `q${String(i).padStart(3, '0')}` }, t: 1_000, v: i }));
    latest.update(metricColumns(points));
    const whole = renderSeriesExposition(latest);
    const chunks = [...seriesExposition(latest, 1_000)];
    expect(chunks.length).toBeGreaterThan(10);
    expect(chunks.join('')).toBe(whole);
    for (const chunk of chunks) expect(chunk.endsWith('\n')).toBe(true);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.length).toBeGreaterThanOrEqual(1_000);
    expect(whole.split('\n').filter((l) => l.startsWith('queue_depth{'))).toHaveLength(500);

    // With smaller slices the work pauses (yields '') before the text starts, and the text is the same.
    const sliced = [...seriesExposition(latest, 1_000, 100)];
    expect(sliced.indexOf('')).toBe(0);
    expect(sliced.filter((c) => c === '').length).toBe(6);
    expect(sliced.join('')).toBe(whole);

    const scrape = seriesExposition(latest, 1_000);
    const first = scrape.next().value as string;
    latest.update(metricColumns([point({ name: 'queue.depth', labels: { queue: 'q499' }, t: 2_000, v: -1 })]));
    const text = first + [...scrape].join('');
    expect(text).toMatch(/^queue_depth\{agent="host-a",queue="q499"\} -1$/m);
    expect(promtool(text).status).toBe(0);
  });
});
